from solution import is_leap_year as f
assert f(2024)
assert not f(1900)
assert f(2000)
assert not f(2023)
