from solution import largest as f
assert f([3, 9, 2]) == 9
assert f([-5, -2, -9]) == -2
