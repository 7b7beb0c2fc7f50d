from solution import binary_search as f
assert f([1, 3, 5, 7, 9], 7) == 3
assert f([1, 3, 5], 4) == -1
assert f([], 1) == -1
