//! What each tool does: its arguments checked (errors name the argument), turned into a
//! `baton-ops` request, and the action's typed response handed back. No MCP types here, so
//! the checks are easy to test.

use baton_ops::dispatch::{CachePolicy, DispatchRequest, DispatchResponse};
use baton_ops::memory::{
    self, DEFAULT_NAMESPACE, DeleteResponse, ListRequest, ListResponse, MemoryValue,
    SearchResponse, StoreRequest, StoreResponse,
};
use baton_ops::workers::{LogTail, SpawnRequest, StatusResponse, SwarmStatus, WorkerView};
use baton_ops::{Notice, Notices, Project};
use baton_store::{MemoryEntry, MemoryQuery};

use crate::error::ToolFailure;
use crate::params::{
    DispatchParams, MemoryKeyParams, MemoryListParams, MemorySearchParams, MemoryStoreParams,
    WorkerIdParams, WorkerLogsParams, WorkerSpawnParams,
};

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

/// Rejects an empty or blank string argument, naming it.
pub(crate) fn non_empty<'a>(name: &str, value: &'a str) -> Result<&'a str, ToolFailure> {
    if value.trim().is_empty() {
        return Err(ToolFailure::invalid(format!("`{name}` must not be empty")));
    }
    Ok(value)
}

/// Checks a `limit`-like argument: 1..=`max`, `default` when absent.
pub(crate) fn bounded(
    name: &str,
    value: Option<u32>,
    default: u32,
    max: u32,
) -> Result<usize, ToolFailure> {
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

/// A duration argument such as `30m`.
pub(crate) fn duration(
    name: &str,
    text: Option<&str>,
) -> Result<Option<std::time::Duration>, ToolFailure> {
    text.map(|text| {
        baton_config::duration::parse_duration(text).map_err(|error| {
            ToolFailure::invalid(format!("argument `{name}`: {error}"))
                .with_hint("give a duration such as `30m`, `90s` or `2h`")
        })
    })
    .transpose()
}

pub(crate) async fn memory_store(
    project: &Project,
    params: MemoryStoreParams,
) -> Result<StoreResponse, ToolFailure> {
    let key = non_empty("key", &params.key)?.to_owned();
    let namespace = namespace_or_default(params.namespace.as_deref())?.to_owned();
    if params.value.is_null() {
        return Err(ToolFailure::invalid(
            "`value` must not be null: pass a JSON object, array, number, boolean or string",
        ));
    }
    if params.ttl_seconds == Some(0) {
        return Err(ToolFailure::invalid("`ttl_seconds` must be at least 1"));
    }
    let mut tags = params.tags.unwrap_or_default();
    // A server given to an agent worker of a run is scoped to it: what the worker stores
    // says which run and subtask it came from.
    for (var, prefix) in [
        (baton_config::env::BATON_RUN, "run"),
        (baton_config::env::BATON_SUBTASK, "subtask"),
    ] {
        if let Some(value) = project.env().get(var).filter(|v| !v.is_empty()) {
            let tag = format!("{prefix}:{value}");
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    let request = StoreRequest {
        namespace,
        key,
        value: MemoryValue::from_json(params.value)?,
        tags,
        ttl: params.ttl_seconds.map(std::time::Duration::from_secs),
        upsert: params.upsert.unwrap_or(false),
    };
    Ok(memory::store(project, request).await?)
}

pub(crate) async fn memory_search(
    project: &Project,
    params: MemorySearchParams,
) -> Result<SearchResponse, ToolFailure> {
    let limit = bounded("limit", params.limit, DEFAULT_SEARCH_LIMIT, MAX_LIMIT)?;
    let min_score = params.min_score.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(ToolFailure::invalid(format!(
            "`min_score` must be within 0..=1, got {min_score}"
        )));
    }
    let mut namespaces: Vec<String> = Vec::new();
    if let Some(namespace) = &params.namespace {
        namespaces.push(non_empty("namespace", namespace)?.to_owned());
    }
    for namespace in params.namespaces.iter().flatten() {
        namespaces.push(non_empty("namespaces", namespace)?.to_owned());
    }
    let query = MemoryQuery::new(params.query)
        .with_limit(limit)
        .with_min_score(min_score)
        .in_namespaces(namespaces)
        .with_tags(params.tags.unwrap_or_default());
    let found = memory::search(project, query).await?;
    // Bookkeeping: a busy store loses a count, never the reply.
    memory::count_accesses(project, &found.reply.hits);
    Ok(found)
}

pub(crate) async fn memory_get(
    project: &Project,
    params: MemoryKeyParams,
) -> Result<MemoryEntry, ToolFailure> {
    let key = non_empty("key", &params.key)?;
    let namespace = namespace_or_default(params.namespace.as_deref())?;
    Ok(memory::get(project, namespace, key).await?)
}

pub(crate) async fn memory_list(
    project: &Project,
    params: MemoryListParams,
) -> Result<ListResponse, ToolFailure> {
    let limit = bounded("limit", params.limit, DEFAULT_LIST_LIMIT, MAX_LIMIT)?;
    let namespace = match &params.namespace {
        Some(namespace) => Some(non_empty("namespace", namespace)?.to_owned()),
        None => None,
    };
    let request = ListRequest {
        namespace,
        tag: params.tag,
        limit,
        offset: params.offset.unwrap_or(0) as usize,
    };
    Ok(memory::list(project, request).await?)
}

pub(crate) async fn memory_delete(
    project: &Project,
    params: MemoryKeyParams,
) -> Result<DeleteResponse, ToolFailure> {
    let key = non_empty("key", &params.key)?;
    let namespace = namespace_or_default(params.namespace.as_deref())?;
    Ok(memory::delete(project, namespace, key).await?)
}

pub(crate) async fn swarm_status(project: &Project) -> Result<SwarmStatus, ToolFailure> {
    Ok(baton_ops::workers::swarm(project).await?)
}

pub(crate) async fn worker_spawn(
    project: &Project,
    params: WorkerSpawnParams,
) -> Result<WorkerView, ToolFailure> {
    let command = params.command.unwrap_or_default();
    if params.kind.is_none() && command.is_empty() {
        return Err(ToolFailure::invalid(
            "give `kind` (an agent template, with `prompt`) or a non-empty `command`",
        ));
    }
    let request = SpawnRequest {
        name: params.name,
        kind: params.kind,
        prompt: params.prompt,
        command,
        timeout: duration("timeout", params.timeout.as_deref())?,
        idle_timeout: duration("idle_timeout", params.idle_timeout.as_deref())?,
        expect: params.expect.unwrap_or_default(),
        expect_pass: params.expect_pass.unwrap_or(false),
        remediate: params.remediate,
        cwd: params.cwd.map(Into::into),
        check: params.check,
        ..SpawnRequest::default()
    };
    Ok(baton_ops::workers::spawn(project, request).await?)
}

pub(crate) async fn worker_status(
    project: &Project,
    params: WorkerIdParams,
) -> Result<StatusResponse, ToolFailure> {
    let id = non_empty("id", &params.id)?;
    Ok(baton_ops::workers::status(project, id).await?)
}

pub(crate) async fn worker_logs(
    project: &Project,
    params: WorkerLogsParams,
) -> Result<LogTail, ToolFailure> {
    let lines = bounded(
        "tail_lines",
        params.tail_lines,
        DEFAULT_TAIL_LINES,
        MAX_TAIL_LINES,
    )?;
    let id = non_empty("id", &params.id)?;
    Ok(baton_ops::workers::tail(project, id, lines).await?)
}

/// Notices of an agent's dispatch: into the server's log (they are in the reply too).
struct Logged;

impl Notices for Logged {
    fn notice(&self, notice: Notice) {
        tracing::info!(level = ?notice.level, "dispatch: {}", notice.text);
    }
}

pub(crate) async fn dispatch(
    project: &Project,
    params: DispatchParams,
) -> Result<DispatchResponse, ToolFailure> {
    let task = non_empty("task", &params.task)?.to_owned();
    let route = match params.route.as_deref() {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            ToolFailure::invalid(format!(
                "`route` must be `auto`, `local` or `api`, got `{text}`"
            ))
        })?),
    };
    let request = DispatchRequest {
        task,
        context: params.context_files.unwrap_or_default(),
        system: params.system,
        profile: params.profile,
        route,
        cache: CachePolicy::Profile,
        start_servers: true,
        ..DispatchRequest::default()
    };
    // The reply is in the response; nothing streams to the agent meanwhile.
    let mut sink = baton_ops::NullSink;
    Ok(baton_ops::dispatch::dispatch(project, request, &mut sink, &Logged).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_names_the_argument() {
        let failure = bounded("limit", Some(0), 10, 100).unwrap_err();
        assert!(failure.message.contains("`limit`"), "{failure:?}");
        assert_eq!(bounded("limit", None, 10, 100).unwrap(), 10);
    }
}
