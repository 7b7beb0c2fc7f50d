def square(n: int) -> int:
    """Return n times n."""
