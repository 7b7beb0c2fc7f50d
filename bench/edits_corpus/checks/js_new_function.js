const { capitalize } = require('./text.js');
if (capitalize('hello') !== 'Hello' || capitalize('') !== '') process.exit(1);
