/**
 * Returns value limited to the range [low, high].
 */
function clamp(value, low, high) {
}

module.exports = { clamp };
