t = open('guide.md').read()
assert 'pip install fastcsv==2.1\n' in t and 'pip install fastcsv\n' not in t
assert 'rows = fastcsv.read("data.csv")' in t and '## License' in t
