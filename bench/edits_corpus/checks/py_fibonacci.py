from solution import fibonacci as f
assert [f(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]
assert f(30) == 832040
