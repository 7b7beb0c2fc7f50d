from solution import is_prime as f
assert [x for x in range(-3, 30) if f(x)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
