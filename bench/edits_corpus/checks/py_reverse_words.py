from solution import reverse_words as f
assert f('hello world foo') == 'foo world hello'
assert f('one') == 'one'
