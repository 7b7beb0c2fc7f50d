from solution import clamp as f
assert f(5, 0, 10) == 5
assert f(-1, 0, 10) == 0
assert f(11, 0, 10) == 10
