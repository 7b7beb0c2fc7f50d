def second_largest(nums: list[int]) -> int:
    """Return the second largest distinct value of nums (which holds at least two distinct values)."""
