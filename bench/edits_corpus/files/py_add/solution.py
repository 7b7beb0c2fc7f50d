def add(x: int, y: int) -> int:
    """Return the sum of x and y."""
