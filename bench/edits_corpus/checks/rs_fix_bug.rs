// checks average.rs: the file is included above these tests
#[test] fn avg() { assert_eq!(average(&[]), None); assert_eq!(average(&[1.0, 3.0]), Some(2.0)); }
