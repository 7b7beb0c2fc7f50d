from solution import chunk as f
assert f([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
assert f([], 3) == []
