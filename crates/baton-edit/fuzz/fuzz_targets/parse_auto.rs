//! Arbitrary bytes (as lossy UTF-8) through detection and parsing: no panic, the detected
//! format is the one the parse reports, parsing with it explicitly gives the same result,
//! and nothing detected means one problem and no edits.
#![no_main]

mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reply = String::from_utf8_lossy(data);
    let detected = baton_edit::detect(&reply);
    let parsed = baton_edit::parse(&reply, None);
    invariants::check(&reply, &parsed, detected);
    match detected {
        Some(format) => assert_eq!(parsed, baton_edit::parse(&reply, Some(format))),
        None => {
            assert!(parsed.edits.is_empty());
            assert_eq!(parsed.problems.len(), 1);
        }
    }
});
