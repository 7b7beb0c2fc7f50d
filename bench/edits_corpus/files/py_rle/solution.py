def run_length_encode(s: str) -> str:
    """Encode runs of the same character as the count followed by the character: 'aaab' gives '3a1b'."""
