//! What `baton stats` and the dashboard show: latency, success, tokens spent locally vs in
//! the cloud, and money spent vs avoided, over the call ledger, overall and per
//! backend/model.
//!
//! Counting rules, chosen once here so every screen agrees:
//! - Each attempt falls in exactly one bucket: a cache hit (`cache_hit` set, or outcome
//!   `cache_hit`), else ok (outcome `ok`), else an error. So `ok + errors + cache_hits ==
//!   calls`.
//! - Tokens of cache hits count as neither local nor cloud spend: no model ran, so they cost
//!   nothing and would only inflate whichever side served the original.
//! - A failed attempt counts its tokens, its cost and its avoided cost only when it reached a
//!   model: a first token came back (`ttft_ms` is set) or the server reported usage (not
//!   `estimated`). An error row with estimated usage and no first token was refused, timed
//!   out before answering or got an HTTP error: it counts as an error and nothing else. Newer
//!   ledgers record such attempts with zero usage; older ones recorded the estimated prompt,
//!   which would have shown a dead local server as a rising local share and cost avoided.
//! - Latency and time to first token are taken over ok attempts only: errors are often
//!   timeouts (which would just echo the timeout) or instant refusals.
//! - Percentiles are nearest-rank: the `ceil(p/100 * n)`-th smallest value, so always a value
//!   that was observed.
//! - Costs are the sums of what the ledger recorded, for every attempt that counts tokens
//!   (cache hits included: their avoided cost is what serving them saved).

use std::collections::{BTreeMap, HashSet};

use baton_core::{CallOutcome, CallRecord, Locality};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The ledger summed up over the attempts started at or after `since_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport {
    /// The lower bound the report was asked for (Unix ms, inclusive); `None` means all time.
    pub since_ms: Option<i64>,
    /// Every attempt together; its `backend`, `model` and `locality` are `None`.
    pub overall: GroupStats,
    /// One group per backend, model and locality seen, sorted by backend, then model.
    pub by_backend_model: Vec<GroupStats>,
}

/// Counts for one group of attempts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupStats {
    pub backend: Option<String>,
    pub model: Option<String>,
    pub locality: Option<Locality>,
    /// Attempts (rows in the ledger).
    pub calls: u64,
    /// Attempts that returned a complete reply.
    pub ok: u64,
    /// Attempts that failed.
    pub errors: u64,
    /// Attempts answered from the reply cache.
    pub cache_hits: u64,
    /// Distinct requests (`request_id`) among the attempts; one request may take several.
    pub requests: u64,
    /// Wall time of ok attempts, milliseconds; `None` when there were none.
    pub latency_ms: Option<Percentiles>,
    /// Time to first token of ok attempts that streamed, milliseconds; `None` when there
    /// were none.
    pub ttft_ms: Option<Percentiles>,
    pub tokens: TokenSplit,
    /// Local tokens / all tokens (prompt and completion, cache hits excluded), from 0 to 1;
    /// `None` when no tokens were spent.
    pub local_share: Option<f64>,
    /// Sum of `cost_usd`: what was paid.
    pub cost_spent_usd: f64,
    /// Sum of `avoided_usd`: what the local tokens would have cost in the cloud.
    pub cost_avoided_usd: f64,
}

/// Nearest-rank percentiles of a non-empty set of values (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p95: u64,
}

/// Tokens spent, split by where they ran. Cache hits are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenSplit {
    /// Prompt tokens sent to local backends.
    pub local_in: u64,
    /// Completion tokens produced by local backends.
    pub local_out: u64,
    pub cloud_in: u64,
    pub cloud_out: u64,
    /// How many of the counted attempts had estimated, not server-reported, usage.
    pub estimated_calls: u64,
}

impl Store {
    /// Sums up the attempts started at or after `since_ms` (all of them for `None`). One
    /// scan of the ledger: percentiles need every latency anyway, so summing in Rust costs
    /// no extra pass.
    pub fn stats(&self, since_ms: Option<i64>) -> Result<StatsReport, StoreError> {
        Ok(report(since_ms, &self.calls(since_ms)?))
    }
}

fn report(since_ms: Option<i64>, rows: &[CallRecord]) -> StatsReport {
    let mut overall = Acc::default();
    // BTreeMap keeps the groups sorted by backend, then model (then locality).
    let mut groups: BTreeMap<(&str, &str, &str), (Locality, Acc<'_>)> = BTreeMap::new();
    for row in rows {
        overall.add(row);
        groups
            .entry((&row.backend, &row.model, row.locality.as_str()))
            .or_insert_with(|| (row.locality, Acc::default()))
            .1
            .add(row);
    }
    StatsReport {
        since_ms,
        overall: overall.finish(),
        by_backend_model: groups
            .into_iter()
            .map(|((backend, model, _), (locality, acc))| GroupStats {
                backend: Some(backend.to_owned()),
                model: Some(model.to_owned()),
                locality: Some(locality),
                ..acc.finish()
            })
            .collect(),
    }
}

/// Running totals of one group.
#[derive(Default)]
struct Acc<'a> {
    stats: GroupStats,
    requests: HashSet<&'a str>,
    latencies: Vec<u64>,
    ttfts: Vec<u64>,
}

impl<'a> Acc<'a> {
    fn add(&mut self, row: &'a CallRecord) {
        let s = &mut self.stats;
        s.calls += 1;
        self.requests.insert(&row.request_id);
        if row.cache_hit || row.outcome == CallOutcome::CacheHit {
            s.cache_hits += 1;
            s.cost_spent_usd += row.cost_usd;
            s.cost_avoided_usd += row.avoided_usd;
            return;
        }
        if row.outcome == CallOutcome::Ok {
            s.ok += 1;
            self.latencies.push(row.latency_ms);
            self.ttfts.extend(row.ttft_ms);
        } else {
            s.errors += 1;
            if !reached_a_model(row) {
                return;
            }
        }
        s.cost_spent_usd += row.cost_usd;
        s.cost_avoided_usd += row.avoided_usd;
        let tokens = &mut s.tokens;
        match row.locality {
            Locality::Local => {
                tokens.local_in += row.usage.prompt_tokens;
                tokens.local_out += row.usage.completion_tokens;
            }
            Locality::Cloud => {
                tokens.cloud_in += row.usage.prompt_tokens;
                tokens.cloud_out += row.usage.completion_tokens;
            }
        }
        if row.usage.estimated {
            tokens.estimated_calls += 1;
        }
    }

    fn finish(mut self) -> GroupStats {
        let t = self.stats.tokens;
        let local = t.local_in + t.local_out;
        let all = local + t.cloud_in + t.cloud_out;
        self.stats.local_share = (all > 0).then(|| local as f64 / all as f64);
        self.stats.requests = self.requests.len() as u64;
        self.stats.latency_ms = percentiles(&mut self.latencies);
        self.stats.ttft_ms = percentiles(&mut self.ttfts);
        self.stats
    }
}

/// Whether a failed attempt got as far as a model (see the module doc): a token came back,
/// or the server reported usage.
fn reached_a_model(row: &CallRecord) -> bool {
    row.ttft_ms.is_some() || !row.usage.estimated
}

/// p50 and p95 of `values` (sorted in place); `None` when it is empty.
fn percentiles(values: &mut [u64]) -> Option<Percentiles> {
    values.sort_unstable();
    Some(Percentiles {
        p50: nearest_rank(values, 50)?,
        p95: nearest_rank(values, 95)?,
    })
}

/// The `p`-th percentile (0 < p <= 100) of sorted `values` by nearest rank: the value at
/// 1-based rank `ceil(p * n / 100)`.
fn nearest_rank(sorted: &[u64], p: usize) -> Option<u64> {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_picks_an_observed_value() {
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 95), Some(10));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank(&[], 50), None);
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&hundred, 95), Some(95));
    }
}
