from solution import absolute as f
assert f(-3) == 3 and f(4) == 4 and f(0) == 0
