import shapes
assert shapes.area.__doc__ and 'area' in shapes.area.__doc__.lower()
assert abs(shapes.area(1) - 3.14159) < 1e-4
