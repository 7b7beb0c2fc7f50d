//! `baton ps [--all] [--json]`: the workers, with remediation chains shown under the worker
//! they fix. Before listing, workers whose supervisor died are found and marked `lost`.

use std::collections::BTreeMap;
use std::io::Write;

use baton_core::WorkerRecord;

use crate::app::App;
use crate::cli::PsArgs;
use crate::error::CliError;
use crate::workers;

/// Without `--all`, ended workers are listed for this long after they end.
const RECENT_MS: i64 = 60 * 60 * 1000;

pub fn run(app: App, args: PsArgs) -> Result<std::process::ExitCode, CliError> {
    let store = app.open_store()?;
    workers::reconcile(&store)?;
    let now = baton_core::now_ms();
    let listed: Vec<WorkerRecord> = store
        .workers(true)?
        .into_iter()
        .filter(|w| {
            args.all
                || !w.status.is_terminal()
                || w.ended_at_ms.is_some_and(|at| now - at < RECENT_MS)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    if args.json {
        let rows: Vec<serde_json::Value> = listed.iter().map(|w| json_row(w, now)).collect();
        writeln!(out, "{}", serde_json::Value::Array(rows)).map_err(io_error)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let mut table =
        crate::output::table(["id", "name", "status", "age", "pid", "why / last log line"]);
    for (worker, depth) in chains(&listed) {
        let id = if depth == 0 {
            worker.id.clone()
        } else {
            format!("{}└ {}", "  ".repeat(depth - 1), worker.id)
        };
        let detail = worker
            .why
            .clone()
            .unwrap_or_else(|| last_log_line(&worker.log_path));
        table.add_row([
            id,
            worker.spec.name.clone(),
            worker.status.to_string(),
            age(now - worker.created_at_ms),
            worker.pid.map_or("-".into(), |p| p.to_string()),
            detail,
        ]);
    }
    writeln!(out, "{table}").map_err(io_error)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Workers in display order: each followed by its remediations, indented by depth.
fn chains(workers: &[WorkerRecord]) -> Vec<(&WorkerRecord, usize)> {
    let mut children: BTreeMap<&str, Vec<&WorkerRecord>> = BTreeMap::new();
    let ids: std::collections::BTreeSet<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    for worker in workers {
        if let Some(parent) = worker
            .spec
            .remediation_of
            .as_deref()
            .filter(|p| ids.contains(p))
        {
            children.entry(parent).or_default().push(worker);
        }
    }
    let mut ordered = Vec::new();
    fn visit<'a>(
        worker: &'a WorkerRecord,
        depth: usize,
        children: &BTreeMap<&str, Vec<&'a WorkerRecord>>,
        ordered: &mut Vec<(&'a WorkerRecord, usize)>,
    ) {
        ordered.push((worker, depth));
        for child in children.get(worker.id.as_str()).into_iter().flatten() {
            visit(child, depth + 1, children, ordered);
        }
    }
    for worker in workers {
        let is_root = worker
            .spec
            .remediation_of
            .as_deref()
            .is_none_or(|p| !ids.contains(p));
        if is_root {
            visit(worker, 0, &children, &mut ordered);
        }
    }
    ordered
}

/// The last non-empty line of a log, without its timestamp.
pub fn last_log_line(path: &str) -> String {
    let text = baton_exec::logcap::read_tail(std::path::Path::new(path), 1).unwrap_or_default();
    let line = text.lines().last().unwrap_or_default();
    let without_time = line
        .split_once(' ')
        .filter(|(stamp, _)| stamp.ends_with('Z'))
        .map_or(line, |(_, rest)| rest);
    without_time.chars().take(80).collect()
}

fn age(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// One worker as JSON for `ps --json` and the MCP tools.
pub fn json_row(worker: &WorkerRecord, now: i64) -> serde_json::Value {
    serde_json::json!({
        "id": worker.id,
        "name": worker.spec.name,
        "kind": worker.spec.kind,
        "status": worker.status,
        "why": worker.why,
        "pid": worker.pid,
        "exit_code": worker.exit_code,
        "age_ms": now - worker.created_at_ms,
        "created_at_ms": worker.created_at_ms,
        "started_at_ms": worker.started_at_ms,
        "ended_at_ms": worker.ended_at_ms,
        "remediation_of": worker.spec.remediation_of,
        "restarts": worker.restarts,
        "log": worker.log_path,
        "last_log_line": last_log_line(&worker.log_path),
        "command": worker.spec.command,
    })
}
