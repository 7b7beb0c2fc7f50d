//! `baton stats`: the ledger summed up: latency p50/p95, tokens local vs cloud and the local
//! share, cost avoided and spent, per backend and model; with `--edits`, the replies applied
//! as edits: well-formed and applied per model and format.

use std::io::Write;

use baton_store::{EditStats, GroupStats, StatsReport};

use crate::app::App;
use crate::cli::StatsArgs;
use crate::error::{CliError, Exit};

/// `1h`, `7d`, `2026-11-01`, `2026-11-01T12:00:00Z` -> Unix milliseconds.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, CliError> {
    let trimmed = text.trim();
    let bad = || {
        CliError::new(Exit::Usage, format!("invalid --since `{text}`"))
            .hint("give a duration back from now (`30m`, `24h`, `7d`) or a date (`2026-11-01`, `2026-11-01T12:00:00Z`)")
    };
    if let Ok(duration) = baton_config::duration::parse_duration(trimmed) {
        return Ok(now_ms - i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
    }
    if let Ok(timestamp) = trimmed.parse::<jiff::Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    if let Ok(date) = trimmed.parse::<jiff::civil::Date>() {
        let zoned = date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
        return Ok(zoned.timestamp().as_millisecond());
    }
    Err(bad())
}

pub fn run(app: App, args: StatsArgs) -> Result<std::process::ExitCode, CliError> {
    let since = args
        .since
        .as_deref()
        .map(|text| parse_since(text, baton_core::now_ms()))
        .transpose()?;
    let store = app.open_store()?;
    let mut out = std::io::stdout().lock();
    let io_error = CliError::output;
    if args.edits {
        let stats = store.edit_stats(since)?;
        if args.json {
            let rows: Vec<serde_json::Value> = stats.iter().map(edit_json).collect();
            let object = serde_json::json!({ "since_ms": since, "by_model_format": rows });
            writeln!(out, "{object}").map_err(io_error)?;
        } else {
            write!(out, "{}", render_edits(&stats)).map_err(io_error)?;
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let report = store.stats(since)?;
    if args.json {
        serde_json::to_writer(&mut out, &report).map_err(|error| io_error(error.into()))?;
        writeln!(out).map_err(io_error)?;
    } else {
        write!(out, "{}", render(&report)).map_err(io_error)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
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

/// One model x format group with its rates, as `--edits --json` prints it.
fn edit_json(stats: &EditStats) -> serde_json::Value {
    let mut value = serde_json::to_value(stats).unwrap_or_default();
    value["well_formed_rate"] = serde_json::json!(stats.well_formed_rate());
    value["applied_rate"] = serde_json::json!(stats.applied_rate());
    value
}

/// The `--edits` table: per model and format, how many replies were well-formed and applied.
pub fn render_edits(stats: &[EditStats]) -> String {
    if stats.is_empty() {
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
    for group in stats {
        table.add_row([
            group.model.clone().unwrap_or_else(|| "-".into()),
            group.format.to_string(),
            group.replies.to_string(),
            percent(group.well_formed, group.well_formed_rate()),
            percent(group.applied, group.applied_rate()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_days_and_dates() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_since("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_since("2d", now).unwrap(), now - 2 * 86_400_000);
        assert_eq!(parse_since("1970-01-02", now).unwrap(), 86_400_000);
        assert!(parse_since("yesterday-ish", now).is_err());
    }
}
