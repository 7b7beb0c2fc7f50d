// checks lib.rs: the file is included above these tests
#[test] fn even() { assert!(is_even(4)); assert!(!is_even(7)); assert!(is_even(-2)); assert!(is_even(0)); }
