/// Whether n is even.
pub fn is_even(n: i64) -> bool {
    todo!()
}
