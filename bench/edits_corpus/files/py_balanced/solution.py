def is_balanced(s: str) -> bool:
    """Return True if the brackets (), [] and {} in s are balanced and properly nested."""
