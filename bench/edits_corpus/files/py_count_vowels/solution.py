def count_vowels(s: str) -> int:
    """Return how many vowels (a, e, i, o, u, any case) s holds."""
