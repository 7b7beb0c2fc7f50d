from solution import title_case as f
assert f('hello WORLD') == 'Hello World'
assert f('a') == 'A'
