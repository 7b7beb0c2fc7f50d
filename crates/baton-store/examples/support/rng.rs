//! The seeded generator the store's benchmark examples draw their data and their picks from
//! (splitmix64: small, seeded, reproducible from run to run, no dependency).

pub(crate) struct Rng(pub(crate) u64);

// Each example uses the draws it needs; the others are unused there.
#[allow(dead_code)]
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A rank in 0..n, log-uniform: rank r has weight ~1/(r+1), like word frequencies.
    pub(crate) fn zipf(&mut self, n: usize) -> usize {
        let r = ((n as f64 + 1.0).ln() * self.unit()).exp() - 1.0;
        (r as usize).min(n - 1)
    }
}
