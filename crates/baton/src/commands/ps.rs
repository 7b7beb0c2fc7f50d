//! `baton ps [--all] [--json]`: the workers, with remediation chains shown under the worker
//! they fix. Workers whose supervisor died are found and marked `lost` first.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::workers::WorkerView;

use crate::cli::PsArgs;
use crate::error::CliError;
use crate::output::Printer;

/// Characters of the last log line shown in the table.
const LOG_LINE_CHARS: usize = 80;

pub async fn run(project: &Project, args: PsArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let workers = baton_ops::workers::ps(project, args.all).await?;
    if printer.is_json() {
        printer.json(&workers)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table =
        crate::output::table(["id", "name", "status", "age", "pid", "why / last log line"]);
    for (worker, depth) in chains(&workers) {
        let id = if depth == 0 {
            worker.id.clone()
        } else {
            format!("{}└ {}", "  ".repeat(depth - 1), worker.id)
        };
        let detail = worker
            .why
            .clone()
            .or_else(|| worker.last_log_line.clone())
            .unwrap_or_default();
        table.add_row([
            id,
            worker.name.clone(),
            worker.status.to_string(),
            age(worker.age_ms),
            worker.pid.map_or("-".into(), |p| p.to_string()),
            detail.chars().take(LOG_LINE_CHARS).collect(),
        ]);
    }
    printer.text(table)?;
    Ok(ExitCode::SUCCESS)
}

/// Workers in display order: each followed by its remediations, indented by depth.
fn chains(workers: &[WorkerView]) -> Vec<(&WorkerView, usize)> {
    let ids: BTreeSet<&str> = workers.iter().map(|w| w.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&WorkerView>> = BTreeMap::new();
    for worker in workers {
        if let Some(parent) = worker.remediation_of.as_deref().filter(|p| ids.contains(p)) {
            children.entry(parent).or_default().push(worker);
        }
    }
    fn visit<'a>(
        worker: &'a WorkerView,
        depth: usize,
        children: &BTreeMap<&str, Vec<&'a WorkerView>>,
        ordered: &mut Vec<(&'a WorkerView, usize)>,
    ) {
        ordered.push((worker, depth));
        for child in children.get(worker.id.as_str()).into_iter().flatten() {
            visit(child, depth + 1, children, ordered);
        }
    }
    let mut ordered = Vec::new();
    for worker in workers {
        if worker
            .remediation_of
            .as_deref()
            .is_none_or(|p| !ids.contains(p))
        {
            visit(worker, 0, &children, &mut ordered);
        }
    }
    ordered
}

fn age(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}
