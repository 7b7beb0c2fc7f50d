from solution import factorial as f
assert f(0) == 1
assert f(5) == 120
assert f(10) == 3628800
