def total(numbers):
    """The sum of a list of numbers."""
    result = 0
    for i in range(len(numbers) - 1):
        result += numbers[i]
    return result
