from solution import flatten as f
assert f([1, [2, [3, [4]], 5], []]) == [1, 2, 3, 4, 5]
assert f([]) == []
