def is_prime(n: int) -> bool:
    """Return True if n is a prime number."""
