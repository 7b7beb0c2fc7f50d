from solution import char_frequency as f
assert f('abca') == {'a': 2, 'b': 1, 'c': 1}
assert f('') == {}
