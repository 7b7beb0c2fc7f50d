from total import total
assert total([1, 2, 3]) == 6
assert total([]) == 0
