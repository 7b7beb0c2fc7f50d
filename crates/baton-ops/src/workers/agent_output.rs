//! What an agent CLI said when it ended, read back from its log: its final message and the
//! tokens it reports (Claude Code's `--output-format json` result, Codex's `--json` events,
//! aider's `Tokens:` lines). goose reports neither in a form worth trusting; its last lines
//! stand as its message.

use baton_config::AgentCli;
use baton_core::Usage;
use serde::Serialize;
use serde_json::Value;

use crate::{OpsError, Project};

/// Lines of a worker's log read back for its report: a CLI's result comes at its end.
const REPORT_LINES: usize = 2000;
/// Lines kept as the message of a CLI that gives no structured one.
const MESSAGE_LINES: usize = 20;

/// An agent worker's own account of its work.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentReport {
    /// Its final message, or the last lines of its output.
    pub message: Option<String>,
    /// The tokens it reports using; `None` when it reports none.
    pub usage: Option<Usage>,
    /// The model it reports, when it does.
    pub model: Option<String>,
    pub cost_usd: Option<f64>,
}

/// The report of worker `key`, read from its log as its kind's CLI writes it.
pub async fn report(project: &Project, key: &str) -> Result<AgentReport, OpsError> {
    let settings = project.settings()?;
    let record = super::find(&*project.store()?, key)?;
    let cli = record
        .spec
        .kind
        .as_deref()
        .and_then(|kind| settings.workers.get(kind))
        .and_then(|kind| kind.cli())
        .or_else(|| {
            record
                .spec
                .command
                .first()
                .and_then(|p| AgentCli::of_program(p))
        });
    let text = super::logs::tail_of(&record.log_path, REPORT_LINES)?;
    Ok(parse(cli, &super::logs::own_output(&text)))
}

/// The report in `output` (the CLI's own lines, timestamps and supervisor notes removed).
pub(crate) fn parse(cli: Option<AgentCli>, output: &str) -> AgentReport {
    let report = match cli {
        Some(AgentCli::Claude) => claude(output),
        Some(AgentCli::Codex) => codex(output),
        Some(AgentCli::Aider) => AgentReport {
            usage: aider_usage(output),
            ..AgentReport::default()
        },
        Some(AgentCli::Goose) | None => AgentReport::default(),
    };
    AgentReport {
        message: report.message.or_else(|| last_lines(output)),
        ..report
    }
}

fn last_lines(output: &str) -> Option<String> {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(MESSAGE_LINES);
    let text = lines[start..].join("\n");
    (!text.trim().is_empty()).then_some(text)
}

fn objects(output: &str) -> impl Iterator<Item = Value> + '_ {
    output
        .lines()
        .filter(|line| line.trim_start().starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
}

fn tokens(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `{"type":"result","result":"...","usage":{...},"total_cost_usd":...}`, the last line of
/// `claude -p --output-format json`.
fn claude(output: &str) -> AgentReport {
    let Some(result) = objects(output)
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("result"))
        .last()
    else {
        return AgentReport::default();
    };
    let usage = result.get("usage").map(|usage| {
        let cached = tokens(usage, "cache_read_input_tokens");
        Usage {
            prompt_tokens: tokens(usage, "input_tokens")
                + cached
                + tokens(usage, "cache_creation_input_tokens"),
            completion_tokens: tokens(usage, "output_tokens"),
            cached_tokens: cached,
            estimated: false,
        }
    });
    let model = result
        .get("modelUsage")
        .and_then(Value::as_object)
        .and_then(|models| models.keys().next().cloned());
    AgentReport {
        message: result
            .get("result")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage,
        model,
        cost_usd: result.get("total_cost_usd").and_then(Value::as_f64),
    }
}

/// `codex exec --json` events: `turn.completed` carries each turn's usage, the last
/// `item.completed` of type `agent_message` the final message.
fn codex(output: &str) -> AgentReport {
    let mut usage: Option<Usage> = None;
    let mut message = None;
    for event in objects(output) {
        match event.get("type").and_then(Value::as_str) {
            Some("turn.completed") => {
                if let Some(turn) = event.get("usage") {
                    let sum = usage.get_or_insert_with(Usage::default);
                    sum.prompt_tokens += tokens(turn, "input_tokens");
                    sum.cached_tokens += tokens(turn, "cached_input_tokens");
                    sum.completion_tokens += tokens(turn, "output_tokens");
                }
            }
            Some("item.completed") => {
                let item = event.get("item");
                let kind = item
                    .and_then(|i| i.get("type").or_else(|| i.get("item_type")))
                    .and_then(Value::as_str);
                if kind == Some("agent_message")
                    && let Some(text) = item.and_then(|i| i.get("text")).and_then(Value::as_str)
                {
                    message = Some(text.to_string());
                }
            }
            _ => {}
        }
    }
    AgentReport {
        message,
        usage,
        ..AgentReport::default()
    }
}

/// aider's `Tokens: 2.3k sent, 150 received.` lines (one per exchange), summed. Counts in
/// thousands are rounded by aider; they are still the CLI's own count, not an estimate of
/// Baton's (the ledger's `estimated` means the latter).
fn aider_usage(output: &str) -> Option<Usage> {
    let mut usage: Option<Usage> = None;
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("Tokens: ") else {
            continue;
        };
        let mut sent = None;
        let mut received = None;
        for part in rest.split(',') {
            let mut words = part.split_whitespace();
            let (Some(count), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let what = what.trim_end_matches('.');
            let Some(count) = aider_count(count) else {
                continue;
            };
            match what {
                "sent" => sent = Some(count),
                "received" => received = Some(count),
                _ => {}
            }
        }
        if let (Some(sent), Some(received)) = (sent, received) {
            let sum = usage.get_or_insert_with(Usage::default);
            sum.prompt_tokens += sent;
            sum.completion_tokens += received;
        }
    }
    usage
}

/// `2.3k` -> 2300, `150` -> 150.
fn aider_count(text: &str) -> Option<u64> {
    if let Some(thousands) = text.strip_suffix('k') {
        let value: f64 = thousands.parse().ok()?;
        // Token counts are small positive numbers; the cast cannot overflow.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some((value * 1000.0).round() as u64);
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_codes_json_result_gives_its_message_usage_model_and_cost() {
        let output = "some progress\n{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"Added clamp.\",\"usage\":{\"input_tokens\":120,\"cache_read_input_tokens\":30,\"output_tokens\":45},\"total_cost_usd\":0.0,\"modelUsage\":{\"qwen\":{}}}\n";
        let report = parse(Some(AgentCli::Claude), output);
        assert_eq!(report.message.as_deref(), Some("Added clamp."));
        assert_eq!(
            report.usage,
            Some(Usage {
                prompt_tokens: 150,
                completion_tokens: 45,
                cached_tokens: 30,
                estimated: false
            })
        );
        assert_eq!(report.model.as_deref(), Some("qwen"));
    }

    #[test]
    fn codex_events_are_summed_over_turns_and_the_last_agent_message_is_the_message() {
        let output = concat!(
            "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n",
            "{\"type\":\"item.completed\",\"item\":{\"id\":\"1\",\"type\":\"agent_message\",\"text\":\"first\"}}\n",
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":100,\"cached_input_tokens\":20,\"output_tokens\":10}}\n",
            "{\"type\":\"item.completed\",\"item\":{\"id\":\"2\",\"type\":\"agent_message\",\"text\":\"done\"}}\n",
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":50,\"cached_input_tokens\":0,\"output_tokens\":5}}\n",
        );
        let report = parse(Some(AgentCli::Codex), output);
        assert_eq!(report.message.as_deref(), Some("done"));
        assert_eq!(
            report.usage,
            Some(Usage {
                prompt_tokens: 150,
                completion_tokens: 15,
                cached_tokens: 20,
                estimated: false
            })
        );
    }

    #[test]
    fn aider_token_lines_are_summed_with_counts_in_thousands_expanded() {
        let output = "Tokens: 2.3k sent, 150 received.\nApplied edit to calc.py\nTokens: 900 sent, 40 received. Cost: $0.00 message\n";
        let report = parse(Some(AgentCli::Aider), output);
        assert_eq!(
            report.usage,
            Some(Usage {
                prompt_tokens: 3200,
                completion_tokens: 190,
                cached_tokens: 0,
                estimated: false
            })
        );
        assert!(report.message.unwrap().contains("Applied edit"));
    }

    #[test]
    fn a_cli_that_reports_nothing_has_no_usage_and_its_last_lines_as_message() {
        let report = parse(None, "\nworking\nall done\n");
        assert_eq!(report.usage, None);
        assert_eq!(report.message.as_deref(), Some("working\nall done"));
        assert_eq!(parse(Some(AgentCli::Goose), "").message, None);
    }
}
