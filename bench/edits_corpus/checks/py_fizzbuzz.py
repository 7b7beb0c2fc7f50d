from solution import fizzbuzz as f
assert f(15)[:5] == ['1', '2', 'Fizz', '4', 'Buzz']
assert f(15)[14] == 'FizzBuzz'
assert len(f(7)) == 7
