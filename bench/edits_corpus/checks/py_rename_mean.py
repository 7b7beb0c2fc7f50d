import re
text = open('stats.py').read()
assert 'def average(' in text and 'mean(' not in text.replace('def average', '')
from stats import average, variance
assert average([1, 2, 3]) == 2
assert variance([1, 3]) == 1
