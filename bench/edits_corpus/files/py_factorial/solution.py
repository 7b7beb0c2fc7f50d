def factorial(n: int) -> int:
    """Return n! for a non-negative integer n."""
