// checks math.rs: the file is included above these tests
#[test] fn sq() { assert_eq!(square(7), 49); assert_eq!(inc(1), 2); }
