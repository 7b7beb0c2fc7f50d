//! What the memory and worker tools do, as plain functions over an open [`Store`]: they run
//! inside `spawn_blocking` (SQLite calls block) and return the JSON the tool replies with, or
//! a [`ToolFailure`] naming the bad argument. No MCP types here, so they are easy to test.

use std::path::Path;

use baton_core::{WorkerRecord, WorkerStatus};
use baton_store::Store;
use baton_store::{MemoryQuery, NewMemory, StoreOutcome};
use serde_json::{Value, json};

use crate::error::ToolFailure;
use crate::params::{
    MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams, WorkerIdParams,
    WorkerLogsParams,
};

/// Namespace of `memory_store`, `memory_get` and `memory_delete` when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Hits `memory_search` returns when no `limit` is given.
const DEFAULT_SEARCH_LIMIT: u32 = 10;
/// Entries `memory_list` returns when no `limit` is given.
const DEFAULT_LIST_LIMIT: u32 = 50;
/// Most hits or entries one call returns, whatever `limit` says.
const MAX_LIMIT: u32 = 1000;
/// Log lines `worker_logs` returns when no `tail_lines` is given.
const DEFAULT_TAIL_LINES: u32 = 50;
/// Most log lines one `worker_logs` call returns.
const MAX_TAIL_LINES: u32 = 2000;
/// How long an ended worker stays in `swarm_status`, in milliseconds (one hour).
const RECENTLY_ENDED_MS: i64 = 60 * 60 * 1000;

/// Rejects an empty or blank string argument, naming it.
fn non_empty<'a>(name: &str, value: &'a str) -> Result<&'a str, ToolFailure> {
    if value.trim().is_empty() {
        return Err(ToolFailure::invalid(format!("`{name}` must not be empty")));
    }
    Ok(value)
}

/// Checks a `limit`-like argument: 1..=`max`, `default` when absent.
fn bounded(name: &str, value: Option<u32>, default: u32, max: u32) -> Result<usize, ToolFailure> {
    let value = value.unwrap_or(default);
    if value == 0 || value > max {
        return Err(ToolFailure::invalid(format!(
            "`{name}` must be between 1 and {max}, got {value}"
        )));
    }
    Ok(value as usize)
}

fn namespace_or_default(namespace: Option<&str>) -> Result<&str, ToolFailure> {
    match namespace {
        Some(namespace) => non_empty("namespace", namespace),
        None => Ok(DEFAULT_NAMESPACE),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ToolFailure> {
    serde_json::to_value(value).map_err(|error| ToolFailure {
        message: format!("cannot encode the reply as JSON: {error}"),
        hint: Some("this is a bug in baton; please report it".into()),
    })
}

pub(crate) fn memory_store(
    store: &Store,
    params: &MemoryStoreParams,
    now_ms: i64,
    actions: &dyn crate::Actions,
) -> Result<Value, ToolFailure> {
    let key = non_empty("key", &params.key)?;
    let namespace = namespace_or_default(params.namespace.as_deref())?;
    let mut entry = match &params.value {
        Value::String(text) => NewMemory::text(namespace, key, text.as_str()),
        Value::Null => {
            return Err(ToolFailure::invalid(
                "`value` must not be null: pass a JSON object, array, number, boolean or string",
            ));
        }
        other => NewMemory::json_value(namespace, key, other),
    };
    if let Some(tags) = &params.tags {
        entry = entry.with_tags(tags.iter().map(String::as_str));
    }
    if let Some(ttl_seconds) = params.ttl_seconds {
        if ttl_seconds == 0 {
            return Err(ToolFailure::invalid("`ttl_seconds` must be at least 1"));
        }
        entry = entry.with_ttl(now_ms, ttl_seconds.saturating_mul(1000));
    }
    let upsert = params.upsert.unwrap_or(false);
    let outcome = store.memory_store(&entry, upsert, now_ms)?;
    let (created, value_changed) = match outcome {
        StoreOutcome::Created => (true, true),
        StoreOutcome::Updated { value_changed, .. } => (false, value_changed),
    };
    let mut reply = json!({
        "stored": true,
        "namespace": namespace,
        "key": key,
        "created": created,
        "value_changed": value_changed,
        "is_json": entry.is_json,
        "expires_at_ms": entry.expires_at_ms,
    });
    if let Some(embedding) = actions.embed_stored(store, namespace, key, &entry.value) {
        reply["embedding"] = embedding;
    }
    Ok(reply)
}

pub(crate) fn memory_search(
    store: &Store,
    params: &MemorySearchParams,
    now_ms: i64,
    actions: &dyn crate::Actions,
) -> Result<Value, ToolFailure> {
    let limit = bounded("limit", params.limit, DEFAULT_SEARCH_LIMIT, MAX_LIMIT)?;
    let min_score = params.min_score.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(ToolFailure::invalid(format!(
            "`min_score` must be within 0..=1, got {min_score}"
        )));
    }
    let mut namespaces: Vec<&str> = Vec::new();
    if let Some(namespace) = &params.namespace {
        namespaces.push(non_empty("namespace", namespace)?);
    }
    for namespace in params.namespaces.iter().flatten() {
        namespaces.push(non_empty("namespaces", namespace)?);
    }
    let mut query = MemoryQuery::new(params.query.as_str())
        .with_limit(limit)
        .with_min_score(min_score);
    if !namespaces.is_empty() {
        query = query.in_namespaces(namespaces);
    }
    if let Some(tags) = &params.tags {
        query = query.with_tags(tags.iter().map(String::as_str));
    }
    if let Some(hybrid) = actions.hybrid_search(store, &query, now_ms) {
        return hybrid.map_err(ToolFailure::invalid);
    }
    let reply = store.memory_search(&query, now_ms)?;
    // Bookkeeping: a busy store loses a count, never the reply.
    if let Err(error) = store.count_search_accesses(&reply.hits) {
        tracing::warn!(%error, "could not count the accesses of the search hits");
    }
    to_json(&reply)
}

pub(crate) fn memory_get(
    store: &Store,
    params: &MemoryKeyParams,
    now_ms: i64,
) -> Result<Value, ToolFailure> {
    let key = non_empty("key", &params.key)?;
    let namespace = namespace_or_default(params.namespace.as_deref())?;
    match store.memory_get(namespace, key, now_ms)? {
        Some(entry) => to_json(&entry),
        None => Err(ToolFailure::invalid(format!(
            "no memory entry `{key}` in namespace `{namespace}` (or it has expired)"
        ))
        .with_hint("`memory_search` finds entries by content, `memory_list` lists keys")),
    }
}

pub(crate) fn memory_list(
    store: &Store,
    params: &MemoryListParams,
    now_ms: i64,
) -> Result<Value, ToolFailure> {
    let limit = bounded("limit", params.limit, DEFAULT_LIST_LIMIT, MAX_LIMIT)?;
    let offset = params.offset.unwrap_or(0) as usize;
    let namespace = match &params.namespace {
        Some(namespace) => Some(non_empty("namespace", namespace)?),
        None => None,
    };
    let entries = store.memory_list(namespace, params.tag.as_deref(), limit, offset, now_ms)?;
    Ok(json!({
        "namespace": namespace,
        "tag": params.tag,
        "limit": limit,
        "offset": offset,
        "count": entries.len(),
        "entries": to_json(&entries)?,
    }))
}

pub(crate) fn memory_delete(store: &Store, params: &MemoryKeyParams) -> Result<Value, ToolFailure> {
    let key = non_empty("key", &params.key)?;
    let namespace = namespace_or_default(params.namespace.as_deref())?;
    let deleted = store.memory_delete(namespace, key)?;
    Ok(json!({ "namespace": namespace, "key": key, "deleted": deleted }))
}

/// The worker `id` names, or a failure that says so with a hint.
fn find_worker(store: &Store, id: &str) -> Result<WorkerRecord, ToolFailure> {
    let id = non_empty("id", id)?;
    store.worker(id)?.ok_or_else(|| {
        ToolFailure::invalid(format!("no worker `{id}`"))
            .with_hint("`swarm_status` lists the workers and their ids")
    })
}

pub(crate) fn worker_status(store: &Store, params: &WorkerIdParams) -> Result<Value, ToolFailure> {
    let record = find_worker(store, &params.id)?;
    let remediations = store.remediations_of(&record.id)?;
    Ok(json!({
        "id": record.id,
        "name": record.spec.name,
        "kind": record.spec.kind,
        "status": record.status,
        "why": record.why,
        "pid": record.pid,
        "exit_code": record.exit_code,
        "created_at_ms": record.created_at_ms,
        "started_at_ms": record.started_at_ms,
        "ended_at_ms": record.ended_at_ms,
        "restarts": record.restarts,
        "log_path": record.log_path,
        "command": record.spec.command,
        "cwd": record.spec.cwd,
        "remediation_of": record.spec.remediation_of,
        "remediations": remediations
            .iter()
            .map(|r| json!({ "id": r.id, "name": r.spec.name, "status": r.status, "why": r.why }))
            .collect::<Vec<_>>(),
    }))
}

pub(crate) fn worker_logs(store: &Store, params: &WorkerLogsParams) -> Result<Value, ToolFailure> {
    let lines = bounded(
        "tail_lines",
        params.tail_lines,
        DEFAULT_TAIL_LINES,
        MAX_TAIL_LINES,
    )?;
    let record = find_worker(store, &params.id)?;
    let text = match baton_exec::read_tail(Path::new(&record.log_path), lines) {
        Ok(text) => text,
        // A queued worker has no log yet; that is an empty log, not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(ToolFailure::invalid(format!(
                "cannot read the log {} of worker `{}`: {error}",
                record.log_path, record.id
            )));
        }
    };
    Ok(json!({
        "id": record.id,
        "status": record.status,
        "log_path": record.log_path,
        "lines": lines,
        "text": text,
    }))
}

/// The last line of a worker's log without the timestamp the log writer puts in front.
fn last_log_line(log_path: &str) -> Option<String> {
    let tail = baton_exec::read_tail(Path::new(log_path), 1).ok()?;
    let line = tail.trim_end_matches(['\n', '\r']);
    if line.is_empty() {
        return None;
    }
    Some(strip_timestamp(line).to_owned())
}

/// `line` without a leading RFC 3339 timestamp and the spaces after it (the log writer pads
/// its prefix to a fixed width); other lines unchanged.
pub(crate) fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.parse::<jiff::Timestamp>().is_ok() => rest.trim_start(),
        _ => line,
    }
}

pub(crate) fn swarm_status(store: &Store, now_ms: i64) -> Result<Value, ToolFailure> {
    let workers = store.workers(/*include_ended*/ true)?;
    let shown: Vec<&WorkerRecord> = workers
        .iter()
        .filter(|w| {
            !w.status.is_terminal()
                || w.ended_at_ms
                    .is_some_and(|ended| now_ms.saturating_sub(ended) <= RECENTLY_ENDED_MS)
        })
        .collect();
    let mut counts = serde_json::Map::new();
    for worker in &shown {
        let entry = counts
            .entry(worker.status.as_str().to_owned())
            .or_insert(json!(0));
        *entry = json!(entry.as_u64().unwrap_or(0) + 1);
    }
    let running = shown
        .iter()
        .filter(|w| matches!(w.status, WorkerStatus::Running | WorkerStatus::Starting))
        .count();
    Ok(json!({
        "workers": shown
            .iter()
            .map(|w| json!({
                "id": w.id,
                "name": w.spec.name,
                "kind": w.spec.kind,
                "status": w.status,
                "why": w.why,
                "age_ms": now_ms.saturating_sub(w.created_at_ms),
                "ended_at_ms": w.ended_at_ms,
                "last_log_line": last_log_line(&w.log_path),
            }))
            .collect::<Vec<_>>(),
        "counts": counts,
        "running": running,
        "runs": [],
        "note": "runs are not recorded yet: `runs` is always empty",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_timestamp_removes_the_log_writers_prefix_only() {
        assert_eq!(
            strip_timestamp("2026-11-21T19:19:58.123Z  compiling foo"),
            "compiling foo"
        );
        assert_eq!(strip_timestamp("plain line here"), "plain line here");
        assert_eq!(strip_timestamp("single"), "single");
    }

    #[test]
    fn bounded_names_the_argument() {
        let failure = bounded("limit", Some(0), 10, 100).unwrap_err();
        assert!(failure.message.contains("`limit`"), "{failure:?}");
        assert_eq!(bounded("limit", None, 10, 100).unwrap(), 10);
    }
}
