const { clamp } = require('./clamp.js');
if (clamp(5, 0, 10) !== 5 || clamp(-1, 0, 10) !== 0 || clamp(11, 0, 10) !== 10) process.exit(1);
