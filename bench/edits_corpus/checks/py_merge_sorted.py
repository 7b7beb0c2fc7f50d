from solution import merge_sorted as f
assert f([1, 3, 5], [2, 4, 6, 8]) == [1, 2, 3, 4, 5, 6, 8]
assert f([], [1]) == [1]
