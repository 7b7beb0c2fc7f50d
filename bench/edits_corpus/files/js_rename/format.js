function fmt(cents) {
  return "$" + (cents / 100).toFixed(2);
}

function line(name, cents) {
  return name + ": " + fmt(cents);
}

module.exports = { fmt, line };
