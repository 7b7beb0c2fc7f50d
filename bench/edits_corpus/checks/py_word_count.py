from solution import word_count as f
assert f('The cat the DOG') == {'the': 2, 'cat': 1, 'dog': 1}
assert f('') == {}
