const f = require('./format.js');
if (typeof f.formatPrice !== 'function' || f.fmt !== undefined) process.exit(1);
if (f.line('tea', 250) !== 'tea: $2.50') process.exit(1);
