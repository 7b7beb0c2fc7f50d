const { countAbove } = require('./count.js');
if (countAbove([1, 2, 3, 4], 2) !== 2 || countAbove([], 0) !== 0) process.exit(1);
