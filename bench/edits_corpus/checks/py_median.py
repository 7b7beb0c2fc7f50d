from solution import median as f
assert f([3, 1, 2]) == 2
assert f([4, 1, 3, 2]) == 2.5
