import json


def load(path):
    """The records stored in the JSON file at path."""
    with open(path) as f:
        return json.load(f)
