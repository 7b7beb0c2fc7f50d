def gcd(a: int, b: int) -> int:
    """Return the greatest common divisor of two positive integers."""
