//! Integration tests of the scripted server: each reply kind over real sockets, the info
//! endpoints, recording and in-flight counts, the blocking variant and the binary. One test
//! binary with modules, so it links once.
//!
//! The modules are marked `cfg(test)` so that clippy treats their helpers as test code (where
//! `expect` is allowed, see clippy.toml), not only their `#[test]` functions.

#![allow(
    clippy::disallowed_methods,
    reason = "tests start the binary under test and tools directly"
)]

#[cfg(test)]
mod anthropic;
#[cfg(test)]
mod binary;
#[cfg(test)]
mod common;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod openai;
#[cfg(test)]
mod server;
