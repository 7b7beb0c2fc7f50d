import urllib.request

TIMEOUT_SECONDS = 30


def fetch(url):
    """The body of url, as bytes."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        return response.read()
