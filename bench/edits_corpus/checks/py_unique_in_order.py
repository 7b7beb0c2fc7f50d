from solution import unique_in_order as f
assert f([1, 1, 2, 2, 2, 3, 1]) == [1, 2, 3, 1]
assert f([]) == []
