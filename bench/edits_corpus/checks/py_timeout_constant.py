import client
assert client.TIMEOUT_SECONDS == 60
assert 'timeout=TIMEOUT_SECONDS' in open('client.py').read()
