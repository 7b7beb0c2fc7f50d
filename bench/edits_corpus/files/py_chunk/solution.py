def chunk(items: list, size: int) -> list[list]:
    """Split items into lists of size elements; the last one may be shorter."""
