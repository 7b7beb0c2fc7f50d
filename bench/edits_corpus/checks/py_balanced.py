from solution import is_balanced as f
assert f('([]{})')
assert not f('([)]')
assert not f('((')
assert f('a(b)c')
