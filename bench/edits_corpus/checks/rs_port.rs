// checks server.rs: the file is included above these tests
#[test] fn port() { assert_eq!(Config::default().port, 9090); assert_eq!(DEFAULT_PORT, 9090); }
