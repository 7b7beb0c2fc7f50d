def largest(nums: list[int]) -> int:
    """Return the largest number of a non-empty list, without using max()."""
