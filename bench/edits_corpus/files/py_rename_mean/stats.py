"""Small statistics helpers."""


def mean(values):
    """The arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def variance(values):
    """The population variance."""
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)
