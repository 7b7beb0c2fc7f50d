from solution import count_vowels as f
assert f('Hello World') == 3
assert f('xyz') == 0
assert f('AEIOU') == 5
