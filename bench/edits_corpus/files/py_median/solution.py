def median(nums: list[float]) -> float:
    """Return the median of a non-empty list of numbers."""
