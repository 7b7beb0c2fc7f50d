from discount import apply_discount as f
assert f(200, 10) == 180
assert f(50, 0) == 50
