from solution import second_largest as f
assert f([1, 5, 3, 5]) == 3
assert f([2, 1]) == 1
