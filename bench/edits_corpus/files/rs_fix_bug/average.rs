/// The mean of the values, or None for an empty slice.
pub fn average(values: &[f64]) -> Option<f64> {
    let sum: f64 = values.iter().sum();
    Some(sum / values.len() as f64)
}
