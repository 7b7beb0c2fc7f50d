//! Integration tests of the model layer against the scripted server over real sockets:
//! streaming and usage, both dialects, retries and `Retry-After`, fallback along a chain,
//! timeouts, broken and malformed streams, replies that loop on themselves, the endpoint
//! pool, probes, secrets and the cache key, and the repetition cut against the real
//! llama-server (`llama`). One test binary with modules, so it links once.
//!
//! The modules are marked `cfg(test)` so that clippy treats their helpers as test code (where
//! `expect` is allowed, see clippy.toml), not only their `#[test]` functions.

#[cfg(test)]
mod cache;
#[cfg(test)]
mod failures;
#[cfg(test)]
mod fallback;
#[cfg(test)]
mod llama;
#[cfg(test)]
mod pool;
#[cfg(test)]
mod probe;
#[cfg(test)]
mod repetition;
#[cfg(test)]
mod secrets;
#[cfg(test)]
mod streaming;
#[cfg(test)]
mod support;
