def is_palindrome(s: str) -> bool:
    """Return True if s reads the same forwards and backwards, ignoring case and non-alphanumeric characters."""
