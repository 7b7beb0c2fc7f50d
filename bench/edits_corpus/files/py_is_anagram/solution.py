def is_anagram(a: str, b: str) -> bool:
    """Return True if a and b hold the same letters, ignoring case and spaces."""
