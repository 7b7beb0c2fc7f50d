from solution import max_of_three as f
assert f(1, 5, 3) == 5 and f(-1, -5, -3) == -1
