from solution import celsius_to_fahrenheit as f
assert f(0) == 32
assert f(100) == 212
assert abs(f(-40) + 40) < 1e-9
