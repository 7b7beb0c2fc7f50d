def rotate(items: list, k: int) -> list:
    """Return items rotated k places to the right: rotate([1, 2, 3], 1) == [3, 1, 2]."""
