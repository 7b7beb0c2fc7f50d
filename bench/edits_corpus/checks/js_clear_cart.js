const c = require('./cart.js');
const cart = c.addItem(c.newCart(), 'a', 2);
if (c.clearCart(cart) !== cart || cart.items.length !== 0 || c.total(cart) !== 0) process.exit(1);
