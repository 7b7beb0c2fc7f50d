from solution import is_anagram as f
assert f('Listen', 'Silent')
assert f('dormitory', 'dirty room')
assert not f('abc', 'abd')
