import os
assert os.path.exists('test_solution.py')
text = open('test_solution.py').read()
assert 'def test' in text and 'add' in text
assert 'return x + y' in open('solution.py').read()
