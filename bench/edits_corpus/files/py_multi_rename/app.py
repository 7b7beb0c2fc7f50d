from storage import load


def count(path):
    return len(load(path))
