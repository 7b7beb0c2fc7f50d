def unique_in_order(items: list) -> list:
    """Return the items without consecutive duplicates, keeping their order."""
