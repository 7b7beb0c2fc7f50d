def title_case(s: str) -> str:
    """Capitalize the first letter of every word of s and lowercase the rest."""
