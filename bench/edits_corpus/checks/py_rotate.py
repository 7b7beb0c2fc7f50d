from solution import rotate as f
assert f([1, 2, 3], 1) == [3, 1, 2]
assert f([1, 2, 3], 4) == [3, 1, 2]
assert f([], 2) == []
