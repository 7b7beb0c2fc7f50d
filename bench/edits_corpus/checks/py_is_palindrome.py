from solution import is_palindrome as f
assert f('A man, a plan, a canal: Panama')
assert not f('hello')
assert f('')
