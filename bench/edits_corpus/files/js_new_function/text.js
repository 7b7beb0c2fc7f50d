/**
 * Returns s with its first letter in upper case.
 */
function capitalize(s) {
}

module.exports = { capitalize };
