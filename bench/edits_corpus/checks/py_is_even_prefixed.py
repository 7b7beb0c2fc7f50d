from solution import is_even as f
assert f(4) and not f(7) and f(0) and f(-2)
