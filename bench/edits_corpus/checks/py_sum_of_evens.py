from solution import sum_of_evens as f
assert f([1, 2, 3, 4, 5, 6]) == 12
assert f([]) == 0
assert f([-2, 3]) == -2
