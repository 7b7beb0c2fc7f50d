import storage, app
assert hasattr(storage, 'load_records') and not hasattr(storage, 'load')
assert 'load_records' in open('app.py').read()
