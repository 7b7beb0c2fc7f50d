def flatten(items: list) -> list:
    """Flatten an arbitrarily nested list of lists into a flat list."""
