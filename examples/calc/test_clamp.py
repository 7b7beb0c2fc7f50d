import unittest

from clamp import clamp


class ClampTest(unittest.TestCase):
    def test_a_value_inside_the_range_is_kept(self):
        self.assertEqual(clamp(5, 0, 10), 5)

    def test_a_value_below_the_range_becomes_low(self):
        self.assertEqual(clamp(-3, 0, 10), 0)

    def test_a_value_above_the_range_becomes_high(self):
        self.assertEqual(clamp(42, 0, 10), 10)


if __name__ == "__main__":
    unittest.main()
