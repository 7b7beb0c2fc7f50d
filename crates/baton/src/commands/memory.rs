//! `baton memory store|get|search|list|delete|reembed|stats`: the shared memory from the
//! command line. Search replies always say which namespaces were searched, how hits were
//! ranked, and how many `--min-score` dropped.

use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::memory::{
    self, ListRequest, MemoryValue, SearchResponse, StoreAction, StoreRequest,
};
use baton_store::MemoryQuery;

use crate::app::read_stdin;
use crate::cli::MemoryCommand;
use crate::error::{CliError, Exit};
use crate::output::Printer;

/// Characters of a value shown per line in human output.
const VALUE_PREVIEW_CHARS: usize = 100;

pub async fn run(project: &Project, command: MemoryCommand) -> Result<ExitCode, CliError> {
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
            let printer = Printer::new(json);
            let value = if value == "-" {
                read_stdin(
                    "the value",
                    "pipe the value as UTF-8 text, or give it as an argument",
                )?
            } else {
                value
            };
            let ttl = ttl.as_deref().map(parse_ttl).transpose()?;
            let stored = memory::store(
                project,
                StoreRequest {
                    namespace,
                    key,
                    value: MemoryValue::detect(value),
                    tags,
                    ttl,
                    upsert,
                },
            )
            .await?;
            if let Some(error) = stored.embedding.as_ref().and_then(|e| e.error.as_ref()) {
                printer.warn(format!(
                    "{}/{} is stored without an embedding ({error}); it stays searchable by text",
                    stored.namespace, stored.key
                ));
            }
            if json {
                printer.json(&stored)?;
            } else {
                let action = match stored.outcome {
                    StoreAction::Created => "created",
                    StoreAction::Updated => "updated",
                };
                printer.text(format!("{action} {}/{}", stored.namespace, stored.key))?;
            }
        }
        MemoryCommand::Get {
            key,
            namespace,
            json,
        } => {
            let printer = Printer::new(json);
            let entry = memory::get(project, &namespace, &key).await?;
            if json {
                printer.json(&entry)?;
            } else {
                printer.text(&entry.value)?;
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
            let printer = Printer::new(json);
            let request = MemoryQuery::new(query)
                .in_namespaces(namespaces)
                .with_limit(limit)
                .with_min_score(min_score)
                .with_tags(tags);
            let found = memory::search(project, request).await?;
            if json {
                printer.json(&found)?;
            } else {
                printer.text(render_search(&found))?;
            }
            // After the reply is out: the reader waits for nothing it does not see.
            memory::count_accesses(project, &found.reply.hits);
        }
        MemoryCommand::List {
            namespace,
            tag,
            limit,
            offset,
            json,
        } => {
            let printer = Printer::new(json);
            let listed = memory::list(
                project,
                ListRequest {
                    namespace,
                    tag,
                    limit,
                    offset,
                },
            )
            .await?;
            if json {
                printer.json(&listed)?;
            } else {
                let lines: Vec<String> = listed
                    .entries
                    .iter()
                    .map(|e| format!("{}/{}  {}", e.namespace, e.key, preview(&e.value)))
                    .collect();
                printer.text(lines.join("\n"))?;
            }
        }
        MemoryCommand::Delete {
            key,
            namespace,
            json,
        } => {
            let printer = Printer::new(json);
            let deleted = memory::delete(project, &namespace, &key).await?;
            if json {
                printer.json(&deleted)?;
            } else if deleted.deleted {
                printer.text(format!("deleted {namespace}/{key}"))?;
            }
            // The same exit code with or without --json.
            if let Some(error) = deleted.missing() {
                return Err(error.into());
            }
        }
        MemoryCommand::Reembed {
            namespaces,
            batch,
            json,
        } => {
            let printer = Printer::new(json);
            let report = memory::reembed(project, &namespaces, usize::from(batch)).await?;
            if json {
                printer.json(&report)?;
            } else {
                let replaced: Vec<String> = report
                    .replaced
                    .iter()
                    .map(|(model, count)| format!("{count} from {model}"))
                    .collect();
                printer.text(format!(
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
                ))?;
            }
            if let Some(error) = report.failure() {
                return Err(error.into());
            }
        }
        MemoryCommand::Stats { json } => {
            let printer = Printer::new(json);
            let stats = memory::stats(project).await?;
            if json {
                printer.json(&stats)?;
            } else {
                let lines: Vec<String> = stats
                    .iter()
                    .map(|n| {
                        format!(
                            "{}: {} entries, {} expired, {} bytes",
                            n.namespace, n.entries, n.expired, n.bytes
                        )
                    })
                    .collect();
                printer.text(lines.join("\n"))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A search reply for people: what was searched and how, the vector side when hybrid, one
/// line per hit, and the counts.
fn render_search(found: &SearchResponse) -> String {
    let reply = &found.reply;
    let mut lines = Vec::new();
    let searched = if reply.namespaces_searched.is_empty() {
        "none (the memory is empty)".to_string()
    } else {
        reply.namespaces_searched.join(", ")
    };
    lines.push(format!(
        "searched: {searched}; ranked by {} ({})",
        reply.method, reply.normalization
    ));
    if let Some(note) = &reply.note {
        lines.push(note.clone());
    } else if !reply.ignored_terms.is_empty() {
        lines.push(format!(
            "ignored (stop words): {}",
            reply.ignored_terms.join(", ")
        ));
    }
    if !reply.unknown_namespaces.is_empty() {
        lines.push(format!(
            "no entries at all in: {}",
            reply.unknown_namespaces.join(", ")
        ));
    }
    if let Some(vector) = &found.vector {
        lines.push(match &vector.error {
            Some(error) => format!("vector ranking did not run: {error}"),
            None => format!(
                "vector ({}): {} compared; ranked by text only: {} embedded by another model, \
                 {} not embedded, {} of another dimension",
                vector.model,
                vector.compared,
                vector.skipped_other_model,
                vector.skipped_unembedded,
                vector.skipped_dim_mismatch
            ),
        });
    }
    for hit in &reply.hits {
        let ranked_by = match &found.vector {
            Some(_) => format!("  [{}]", hit.ranked_by),
            None => String::new(),
        };
        lines.push(format!(
            "{:.3}  {}/{}{ranked_by}  {}",
            hit.score,
            hit.namespace,
            hit.key,
            preview(&hit.value)
        ));
    }
    lines.push(format!(
        "{} hit(s) of {} candidate(s); {} below --min-score {}",
        reply.hits.len(),
        reply.total_candidates,
        reply.dropped_below_min_score,
        reply.min_score
    ));
    lines.join("\n")
}

/// `7d`, `12h`, `30m`, `90s`.
fn parse_ttl(text: &str) -> Result<std::time::Duration, CliError> {
    match baton_config::duration::parse_duration(text) {
        Ok(ttl) if !ttl.is_zero() => Ok(ttl),
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
