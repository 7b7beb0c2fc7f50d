def absolute(n: int) -> int:
    """Return the absolute value of n."""
