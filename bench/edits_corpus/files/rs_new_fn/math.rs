/// n plus one.
pub fn inc(n: i32) -> i32 {
    n + 1
}
