//! `baton stats`: the ledger summed up: latency p50/p95, tokens local vs cloud and the local
//! share, cost avoided and spent, per backend and model; with `--edits`, the replies applied
//! as edits: well-formed and applied per model and format.

use std::process::ExitCode;

use baton_ops::Project;
use baton_ops::stats::EditsReport;
use baton_store::{GroupStats, StatsReport};

use crate::cli::StatsArgs;
use crate::error::CliError;
use crate::output::Printer;

pub async fn run(project: &Project, args: StatsArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let since = args
        .since
        .as_deref()
        .map(|text| baton_ops::stats::parse_since(text, baton_core::now_ms()))
        .transpose()?;
    if args.edits {
        let report = baton_ops::stats::edits(project, since).await?;
        if printer.is_json() {
            printer.json(&report)?;
        } else {
            printer.text(render_edits(&report))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = baton_ops::stats::calls(project, since).await?;
    if printer.is_json() {
        printer.json(&report)?;
    } else {
        printer.text(render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v} ms"))
}

fn share(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn row(label: &str, group: &GroupStats) -> Vec<String> {
    let tokens = &group.tokens;
    vec![
        label.to_string(),
        format!("{}", group.calls),
        format!("{}", group.ok),
        format!("{}", group.errors),
        format!("{}", group.cache_hits),
        ms(group.latency_ms.as_ref().map(|p| p.p50)),
        ms(group.latency_ms.as_ref().map(|p| p.p95)),
        ms(group.ttft_ms.as_ref().map(|p| p.p50)),
        format!("{}", tokens.local_in + tokens.local_out),
        format!("{}", tokens.cloud_in + tokens.cloud_out),
        share(group.local_share),
        format!("${:.4}", group.cost_avoided_usd),
        format!("${:.4}", group.cost_spent_usd),
    ]
}

/// The human table.
pub fn render(report: &StatsReport) -> String {
    let mut table = crate::output::table([
        "backend / model",
        "calls",
        "ok",
        "errors",
        "cached",
        "p50",
        "p95",
        "ttft p50",
        "local tok",
        "cloud tok",
        "local share",
        "avoided",
        "spent",
    ]);
    for group in &report.by_backend_model {
        let label = format!(
            "{} / {}",
            group.backend.as_deref().unwrap_or("-"),
            group.model.as_deref().unwrap_or("-")
        );
        table.add_row(row(&label, group));
    }
    table.add_row(row("all", &report.overall));
    let estimated = report.overall.tokens.estimated_calls;
    let mut text = format!("{table}\n");
    if estimated > 0 {
        text.push_str(&format!(
            "{estimated} call(s) have estimated token counts (the server reported none)\n"
        ));
    }
    text
}

/// The `--edits` table: per model and format, how many replies were well-formed and applied.
pub fn render_edits(report: &EditsReport) -> String {
    if report.by_model_format.is_empty() {
        return "no replies applied yet (`baton apply`, `baton dispatch --apply`)\n".into();
    }
    let mut table = crate::output::table([
        "model",
        "format",
        "replies",
        "well-formed",
        "applied",
        "edits",
        "failed",
        "refused",
        "already",
    ]);
    let percent = |part: u64, rate: f64| format!("{part} ({:.0}%)", rate * 100.0);
    for group in &report.by_model_format {
        let (rates, group) = (group, &group.stats);
        table.add_row([
            group.model.clone().unwrap_or_else(|| "-".into()),
            group.format.to_string(),
            group.replies.to_string(),
            percent(group.well_formed, rates.well_formed_rate),
            percent(group.applied, rates.applied_rate),
            group.edits.to_string(),
            group.edits_failed.to_string(),
            group.edits_refused.to_string(),
            group.edits_already_applied.to_string(),
        ]);
    }
    format!(
        "{table}\nwell-formed: parsed in the format asked for; applied: well-formed and no edit failed or was refused (dry runs not counted)\n"
    )
}
