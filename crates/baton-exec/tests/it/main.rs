//! Supervision and run tests with real processes: `sh -c` scripts stand in for agent CLIs and
//! Python's `http.server` for a model server. Every test ends by checking that nothing it
//! started is left running.
//!
//! The modules are marked `cfg(test)` so that clippy treats their helpers as test code (where
//! `expect` is allowed, see clippy.toml), not only their `#[test]` functions.

#[cfg(test)]
mod agent;
#[cfg(test)]
mod run;
#[cfg(test)]
mod server;
#[cfg(test)]
mod support;
