//! The ledgers summed up: calls (latency p50/p95, tokens local vs cloud, the local share,
//! cost avoided and spent, per backend and model) and edits (well-formed and applied replies
//! per model and format), since a time a front end parses with [`parse_since`].

use baton_store::{EditStats, StatsReport};
use serde::Serialize;

use crate::{OpsError, Project};

/// `1h`, `7d`, `2026-11-01`, `2026-11-01T12:00:00Z` -> Unix milliseconds.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, OpsError> {
    let trimmed = text.trim();
    let bad = || {
        OpsError::invalid(
            format!("invalid time `{text}` to count from"),
            "give a duration back from now (`30m`, `24h`, `7d`) or a date (`2026-11-01`, `2026-11-01T12:00:00Z`)",
        )
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

/// The calls ledger since `since_ms` (all of it when `None`).
pub async fn calls(project: &Project, since_ms: Option<i64>) -> Result<StatsReport, OpsError> {
    Ok(project.store()?.stats(since_ms)?)
}

/// One model and format of the edits ledger, with its rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditGroup {
    #[serde(flatten)]
    pub stats: EditStats,
    pub well_formed_rate: f64,
    pub applied_rate: f64,
}

/// The edits ledger per model and format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditsReport {
    pub since_ms: Option<i64>,
    pub by_model_format: Vec<EditGroup>,
}

/// The edits ledger since `since_ms` (all of it when `None`).
pub async fn edits(project: &Project, since_ms: Option<i64>) -> Result<EditsReport, OpsError> {
    let groups = project.store()?.edit_stats(since_ms)?;
    Ok(EditsReport {
        since_ms,
        by_model_format: groups
            .into_iter()
            .map(|stats| EditGroup {
                well_formed_rate: stats.well_formed_rate(),
                applied_rate: stats.applied_rate(),
                stats,
            })
            .collect(),
    })
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
