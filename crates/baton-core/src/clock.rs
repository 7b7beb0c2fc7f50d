//! The one wall clock every room timestamps with: ledger rows, events, worker ages, memory
//! expiry.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 for a clock set before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2020() {
        assert!(super::now_ms() > 1_577_836_800_000);
    }
}
