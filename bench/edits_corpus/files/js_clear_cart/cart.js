// A shopping cart kept as a plain object.

function newCart() {
  return { items: [] };
}

function addItem(cart, name, price) {
  cart.items.push({ name, price });
  return cart;
}

function total(cart) {
  return cart.items.reduce((sum, item) => sum + item.price, 0);
}

module.exports = { newCart, addItem, total };
