from solution import digit_sum as f
assert f(0) == 0
assert f(1234) == 10
