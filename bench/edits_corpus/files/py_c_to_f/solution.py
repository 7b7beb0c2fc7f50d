def celsius_to_fahrenheit(c: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
