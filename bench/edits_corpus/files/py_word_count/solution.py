def word_count(s: str) -> dict[str, int]:
    """Map each lowercase word of s to how often it occurs; words are separated by whitespace and compared case-insensitively."""
