from solution import roman_to_int as f
assert f('MCMXCIV') == 1994
assert f('IV') == 4
assert f('LVIII') == 58
