from greeting import greet
assert greet('Ann') == 'Hello, Ann!'
assert greet('Bo', '?') == 'Hello, Bo?'
assert greet('Cy', punctuation='.') == 'Hello, Cy.'
