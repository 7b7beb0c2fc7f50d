def char_frequency(s: str) -> dict[str, int]:
    """Map every character of s to the number of times it occurs."""
