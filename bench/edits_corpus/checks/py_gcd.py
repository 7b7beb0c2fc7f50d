from solution import gcd as f
assert f(12, 18) == 6
assert f(17, 5) == 1
assert f(100, 10) == 10
