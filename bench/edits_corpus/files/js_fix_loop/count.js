function countAbove(values, limit) {
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] >= limit) {
      count++;
    }
  }
  return count;
}

module.exports = { countAbove };
