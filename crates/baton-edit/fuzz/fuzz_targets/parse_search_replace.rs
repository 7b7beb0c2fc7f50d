//! Arbitrary bytes (as lossy UTF-8) through the search-replace parser: no panic, and the invariants
//! of `invariants::check`.
#![no_main]

mod invariants;

use baton_edit::EditFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reply = String::from_utf8_lossy(data);
    let parsed = baton_edit::search_replace::parse(&reply);
    invariants::check(&reply, &parsed, Some(EditFormat::SearchReplace));
});
