from solution import square as f
assert f(3) == 9 and f(-4) == 16
