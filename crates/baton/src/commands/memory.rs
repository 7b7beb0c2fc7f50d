//! `baton memory store|get|search|list|delete|reembed|stats`: the shared memory in the store, from
//! the command line. Search replies always say which namespaces were searched, how hits were
//! ranked, and how many were dropped by `--min-score`. With `[memory] embeddings` set, stored
//! values are embedded and searches ranked hybrid (see [`crate::memory_rank`]).

use std::io::Write;

use baton_store::{MemoryQuery, NewMemory, SearchHit, Store, StoreOutcome};
use serde_json::json;

use crate::app::{App, read_stdin};
use crate::cli::MemoryCommand;
use crate::error::{CliError, Exit};
use crate::memory_rank::{Embedder, HybridReply, hybrid_search, reembed};

/// Characters of a value shown per line in human output.
const VALUE_PREVIEW_CHARS: usize = 100;

pub fn run(app: App, command: MemoryCommand) -> Result<std::process::ExitCode, CliError> {
    let store = app.open_store()?;
    let now = baton_core::now_ms();
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    let print_json = |out: &mut std::io::StdoutLock<'_>, value: serde_json::Value| {
        writeln!(out, "{value}").map_err(io_error)
    };
    match command {
        MemoryCommand::Store {
            key,
            value,
            namespace,
            tags,
            ttl,
            upsert,
            json,
        } => {
            let value = if value == "-" {
                read_stdin(
                    "the value",
                    "pipe the value as UTF-8 text, or give it as an argument",
                )?
            } else {
                value
            };
            // JSON objects and arrays are kept as JSON; anything else is text.
            let is_json = serde_json::from_str::<serde_json::Value>(&value)
                .is_ok_and(|v| v.is_object() || v.is_array());
            let mut entry = if is_json {
                NewMemory::json(&namespace, &key, &value)
            } else {
                NewMemory::text(&namespace, &key, &value)
            };
            entry = entry.with_tags(tags);
            if let Some(ttl) = ttl {
                let ttl_ms = parse_ttl(&ttl)?;
                entry = entry.with_ttl(now, ttl_ms);
            }
            let embedder = Embedder::from_settings(&app.config(Vec::new())?.settings)?;
            let outcome = store.memory_store(&entry, upsert, now)?;
            let action = match outcome {
                StoreOutcome::Created => "created",
                StoreOutcome::Updated { .. } => "updated",
            };
            let embedding = embedder.as_ref().map(|embedder| {
                match embedder.embed_entry(&store, &namespace, &key, &entry.value) {
                    Ok(dim) => json!({ "model": embedder.model, "dim": dim }),
                    Err(error) => {
                        let _ = writeln!(
                            std::io::stderr().lock(),
                            "warning: {namespace}/{key} is stored without an embedding \
                             (model `{}`: {error}); it stays searchable by text",
                            embedder.model
                        );
                        json!({ "model": embedder.model, "error": error })
                    }
                }
            });
            if json {
                let mut reply = json!({ "namespace": namespace, "key": key, "outcome": action, "is_json": is_json });
                if let Some(embedding) = embedding {
                    reply["embedding"] = embedding;
                }
                print_json(&mut out, reply)?;
            } else {
                writeln!(out, "{action} {namespace}/{key}").map_err(io_error)?;
            }
        }
        MemoryCommand::Get {
            key,
            namespace,
            json,
        } => {
            let entry = store.memory_get(&namespace, &key, now)?.ok_or_else(|| {
                CliError::new(
                    Exit::Input,
                    format!("no entry `{key}` in namespace `{namespace}`"),
                )
                .hint("search all namespaces with `baton memory search WORDS`")
            })?;
            if json {
                print_json(&mut out, serde_json::to_value(&entry).unwrap_or_default())?;
            } else {
                writeln!(out, "{}", entry.value).map_err(io_error)?;
            }
        }
        MemoryCommand::Search {
            query,
            namespaces,
            limit,
            min_score,
            tags,
            json,
        } => {
            let request = MemoryQuery::new(query)
                .in_namespaces(namespaces)
                .with_limit(limit)
                .with_min_score(min_score)
                .with_tags(tags);
            let embedder = Embedder::from_settings(&app.config(Vec::new())?.settings)?;
            let hybrid = match &embedder {
                Some(embedder) => hybrid_search(&store, embedder, &request, now)?,
                None => {
                    let reply = store.memory_search(&request, now)?;
                    if json {
                        print_json(&mut out, serde_json::to_value(&reply).unwrap_or_default())?;
                        count_accesses(&store, &reply.hits);
                        return Ok(std::process::ExitCode::SUCCESS);
                    }
                    let parts = Vec::new();
                    HybridReply {
                        reply,
                        parts,
                        vector: Default::default(),
                    }
                }
            };
            let with_vector = embedder.is_some();
            let HybridReply { reply, .. } = &hybrid;
            if json {
                print_json(&mut out, hybrid.to_json())?;
            } else {
                let searched = if reply.namespaces_searched.is_empty() {
                    "none (the memory is empty)".to_string()
                } else {
                    reply.namespaces_searched.join(", ")
                };
                writeln!(
                    out,
                    "searched: {searched}; ranked by {} ({})",
                    reply.method, reply.normalization
                )
                .map_err(io_error)?;
                if !reply.unknown_namespaces.is_empty() {
                    writeln!(
                        out,
                        "no entries at all in: {}",
                        reply.unknown_namespaces.join(", ")
                    )
                    .map_err(io_error)?;
                }
                if with_vector {
                    let vector = &hybrid.vector;
                    match &vector.error {
                        Some(error) => writeln!(out, "vector ranking did not run: {error}"),
                        None => writeln!(
                            out,
                            "vector ({}): {} compared; ranked by text only: {} embedded by \
                             another model, {} not embedded, {} of another dimension",
                            vector.model,
                            vector.compared,
                            vector.skipped_other_model,
                            vector.skipped_unembedded,
                            vector.skipped_dim_mismatch
                        ),
                    }
                    .map_err(io_error)?;
                }
                for hit in &reply.hits {
                    if with_vector {
                        writeln!(
                            out,
                            "{:.3}  {}/{}  [{}]  {}",
                            hit.score,
                            hit.namespace,
                            hit.key,
                            hit.ranked_by,
                            preview(&hit.value)
                        )
                    } else {
                        writeln!(
                            out,
                            "{:.3}  {}/{}  {}",
                            hit.score,
                            hit.namespace,
                            hit.key,
                            preview(&hit.value)
                        )
                    }
                    .map_err(io_error)?;
                }
                writeln!(
                    out,
                    "{} hit(s) of {} candidate(s); {} below --min-score {}",
                    reply.hits.len(),
                    reply.total_candidates,
                    reply.dropped_below_min_score,
                    reply.min_score
                )
                .map_err(io_error)?;
            }
            // After the reply is out: the reader waits for nothing it does not see.
            count_accesses(&store, &hybrid.reply.hits);
        }
        MemoryCommand::List {
            namespace,
            tag,
            limit,
            offset,
            json,
        } => {
            let entries =
                store.memory_list(namespace.as_deref(), tag.as_deref(), limit, offset, now)?;
            if json {
                print_json(&mut out, serde_json::to_value(&entries).unwrap_or_default())?;
            } else {
                for entry in &entries {
                    writeln!(
                        out,
                        "{}/{}  {}",
                        entry.namespace,
                        entry.key,
                        preview(&entry.value)
                    )
                    .map_err(io_error)?;
                }
            }
        }
        MemoryCommand::Delete {
            key,
            namespace,
            json,
        } => {
            let deleted = store.memory_delete(&namespace, &key)?;
            if json {
                print_json(
                    &mut out,
                    json!({ "namespace": namespace, "key": key, "deleted": deleted }),
                )?;
            } else if deleted {
                writeln!(out, "deleted {namespace}/{key}").map_err(io_error)?;
            } else {
                return Err(CliError::new(
                    Exit::Input,
                    format!("no entry `{key}` in namespace `{namespace}`"),
                )
                .hint("list the keys with `baton memory list -n NAMESPACE`"));
            }
        }
        MemoryCommand::Reembed {
            namespaces,
            batch,
            json,
        } => {
            let embedder =
                Embedder::from_settings(&app.config(Vec::new())?.settings)?.ok_or_else(|| {
                    CliError::new(
                        Exit::Config,
                        "memory embeddings are off: there is no model to re-embed with",
                    )
                    .hint("set `[memory] embeddings = \"BACKEND\"` and `embedding_model`")
                })?;
            let report = reembed(&store, &embedder, &namespaces, usize::from(batch), now)?;
            if json {
                print_json(&mut out, serde_json::to_value(&report).unwrap_or_default())?;
            } else {
                let replaced: Vec<String> = report
                    .replaced
                    .iter()
                    .map(|(model, count)| format!("{count} from {model}"))
                    .collect();
                writeln!(
                    out,
                    "embedded {} entries with {}{}{}; {} changed meanwhile; {} remaining",
                    report.embedded,
                    report.model,
                    report
                        .dim
                        .map(|d| format!(" (dim {d})"))
                        .unwrap_or_default(),
                    if replaced.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", replaced.join(", "))
                    },
                    report.changed_meanwhile,
                    report.remaining
                )
                .map_err(io_error)?;
            }
            if let Some(error) = &report.error {
                return Err(CliError::new(
                    Exit::Backend,
                    format!(
                        "re-embedding stopped after {} entries: {error}",
                        report.embedded
                    ),
                )
                .hint("the entries embedded so far are kept; run `baton memory reembed` again"));
            }
        }
        MemoryCommand::Stats { json } => {
            let stats = store.memory_stats(now)?;
            if json {
                print_json(&mut out, serde_json::to_value(&stats).unwrap_or_default())?;
            } else {
                for namespace in &stats {
                    writeln!(
                        out,
                        "{}: {} entries, {} expired, {} bytes",
                        namespace.namespace, namespace.entries, namespace.expired, namespace.bytes
                    )
                    .map_err(io_error)?;
                }
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `7d`, `12h`, `30m`, `90s` in milliseconds.
fn parse_ttl(text: &str) -> Result<u64, CliError> {
    match baton_config::duration::parse_duration(text) {
        Ok(ttl) if !ttl.is_zero() => Ok(ttl.as_millis().try_into().unwrap_or(u64::MAX)),
        _ => Err(
            CliError::new(Exit::Usage, format!("invalid --ttl `{text}`"))
                .hint("give a duration such as `7d`, `12h` or `30m`"),
        ),
    }
}

fn preview(value: &str) -> String {
    let flat: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > VALUE_PREVIEW_CHARS {
        format!(
            "{}…",
            flat.chars().take(VALUE_PREVIEW_CHARS).collect::<String>()
        )
    } else {
        flat
    }
}

/// Counts the accesses of the hits a search handed on. A failure (the store busy beyond its
/// timeout) loses a count, never the reply already printed: it is logged, not an error.
pub(crate) fn count_accesses(store: &Store, hits: &[SearchHit]) {
    if let Err(error) = store.count_search_accesses(hits) {
        tracing::warn!(%error, "could not count the accesses of the search hits");
    }
}
