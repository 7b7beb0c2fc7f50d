def apply_discount(price, percent):
    """The price after taking off `percent` percent."""
    return price + price * percent / 100
