def binary_search(items: list[int], target: int) -> int:
    """Return the index of target in the sorted list items, or -1 if it is absent."""
