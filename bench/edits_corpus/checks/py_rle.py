from solution import run_length_encode as f
assert f('aaab') == '3a1b'
assert f('') == ''
assert f('abc') == '1a1b1c'
