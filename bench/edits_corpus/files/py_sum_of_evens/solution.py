def sum_of_evens(nums: list[int]) -> int:
    """Return the sum of the even integers in nums."""
