import tomllib
c = tomllib.load(open('config.toml', 'rb'))
assert c['client'] == {'base_url': 'https://api.example.com', 'retries': 5, 'timeout_s': 30}
assert c['logging'] == {'level': 'info'}
