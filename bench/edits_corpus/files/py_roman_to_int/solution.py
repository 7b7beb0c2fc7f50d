def roman_to_int(s: str) -> int:
    """Convert a Roman numeral to an integer."""
