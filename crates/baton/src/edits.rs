//! Applying a model's reply to files and recording what became of it: the glue between
//! `baton-edit` (which parses and applies, and knows nothing of the store) and the edits
//! ledger, shared by `baton apply` and `baton dispatch --apply`.
//!
//! A reply is parsed in the format asked for. When it holds no edit in that format but
//! another format is detected, the reply is applied in that one (the files get what the
//! model meant) and recorded as not well-formed (the model did not follow the format).

use std::io::Write;

use baton_core::{EditFormat, EditRecord};
use baton_edit::{ApplyOptions, ApplyReport, EditStatus, FileStatus, Parsed, Tally};
use baton_store::Store;
use serde_json::json;

use crate::error::{CliError, Exit};

/// One reply to apply.
pub struct ApplyRequest<'a> {
    pub reply: &'a str,
    /// The format asked for; `None`: detect it.
    pub format: Option<EditFormat>,
    pub options: ApplyOptions,
    /// The model that wrote the reply, for the ledger.
    pub model: Option<String>,
    /// The dispatch request the reply answered.
    pub request_id: Option<String>,
    /// The one file the reply is about, relative to the root, for replies that name no file
    /// ([`baton_edit::parse_for`]).
    pub sole_file: Option<String>,
}

/// What applying one reply did.
pub struct Applied {
    pub asked: Option<EditFormat>,
    pub parsed: Parsed,
    /// `None` when the reply held no edits to apply.
    pub report: Option<ApplyReport>,
    /// The ledger row written; `None` when no format was asked and none was found (there is
    /// no format to count the reply under).
    pub record: Option<EditRecord>,
}

/// Parses, applies and records `request`'s reply; see the module documentation.
pub fn apply_reply(store: &Store, request: ApplyRequest<'_>) -> Result<Applied, CliError> {
    let sole_file = request.sole_file.as_deref();
    let mut parsed = baton_edit::parse_for(request.reply, request.format, sole_file);
    if request.format.is_some() && parsed.edits.is_empty() {
        let detected = baton_edit::parse_for(request.reply, None, sole_file);
        if detected.is_well_formed() {
            parsed = detected;
        }
    }
    let mut applied = Applied {
        asked: request.format,
        report: parsed
            .is_well_formed()
            .then(|| baton_edit::apply(&parsed.edits, &request.options)),
        parsed,
        record: None,
    };
    let Some(format) = applied.asked.or(applied.parsed.format) else {
        return Ok(applied);
    };
    let tally = applied
        .report
        .as_ref()
        .map(ApplyReport::tally)
        .unwrap_or_default();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let record = EditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: request.request_id,
        at_ms: baton_core::now_ms(),
        model: request.model,
        format,
        parsed_as: applied.parsed.format,
        well_formed: applied.well_formed(),
        edits: count(applied.parsed.edits.len()),
        applied: count(tally.applied),
        already_applied: count(tally.already_applied),
        failed: count(tally.failed),
        refused: count(tally.refused),
        written: applied.written(),
        dry_run: request.options.dry_run,
    };
    let files = applied
        .report
        .as_ref()
        .map(|r| serde_json::to_value(&r.files).unwrap_or_default())
        .unwrap_or_else(|| json!([]));
    store.record_edit(&record, &files)?;
    applied.record = Some(record);
    Ok(applied)
}

impl Applied {
    /// Well-formed in the format asked for: false for a reply applied in another format it
    /// was detected in (the files get what the model meant; the model did not follow the
    /// format).
    pub fn well_formed(&self) -> bool {
        self.parsed.is_well_formed()
            && self
                .asked
                .is_none_or(|asked| self.parsed.format == Some(asked))
    }

    /// Whether any file was written.
    pub fn written(&self) -> bool {
        self.report.as_ref().is_some_and(ApplyReport::written)
    }

    /// The `--json` object: formats, problems, one entry per edit, files, and the feedback
    /// to send back to the model.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "format": self.asked,
            "parsed_as": self.parsed.format,
            "well_formed": self.well_formed(),
            "problems": self.parsed.problems,
            "edits": self.report.as_ref().map(|r| &r.outcomes),
            "files": self.report.as_ref().map(|r| &r.files),
            "written": self.written(),
            "write_error": self.report.as_ref().and_then(|r| r.write_error.as_ref()),
            "feedback": self.feedback(),
            "record_id": self.record.as_ref().map(|r| &r.id),
        })
    }

    /// What to send back to the model: the parse problems, or the failed edits.
    pub fn feedback(&self) -> String {
        match &self.report {
            Some(report) => report.feedback(),
            None => problems_text(&self.parsed),
        }
    }

    /// The diffstat, as `git diff --stat` prints it, for people.
    pub fn write_summary(&self, out: &mut impl Write) -> std::io::Result<()> {
        let Some(report) = &self.report else {
            return Ok(());
        };
        let width = report
            .files
            .iter()
            .map(|f| f.path.chars().count())
            .max()
            .unwrap_or(0);
        let (mut added, mut removed) = (0, 0);
        for file in &report.files {
            added += file.insertions;
            removed += file.deletions;
            let status = match file.status {
                FileStatus::Created => " (new)",
                FileStatus::Deleted => " (deleted)",
                FileStatus::Modified => "",
            };
            writeln!(
                out,
                " {:<width$} | {:>4} {}{}{status}",
                file.path,
                file.insertions + file.deletions,
                "+".repeat(file.insertions.min(40)),
                "-".repeat(file.deletions.min(40)),
            )?;
        }
        let tally = report.tally();
        let already = tally.already_applied;
        if report.files.is_empty() && tally.failed + tally.refused > 0 {
            // Nothing to list: the feedback that follows says what went wrong.
            return Ok(());
        }
        if report.files.is_empty() {
            return writeln!(
                out,
                " nothing to change; {already} edit(s) already applied, {} in all",
                report.outcomes.len()
            );
        }
        let verb = if report.written() {
            "changed"
        } else {
            "to change, nothing written"
        };
        writeln!(
            out,
            " {} file(s) {verb}, {added} insertion(s)(+), {removed} deletion(s)(-){}",
            report.files.len(),
            if already > 0 {
                format!("; {already} edit(s) already applied")
            } else {
                String::new()
            }
        )
    }

    /// The outcome as an error for the exit code, or `None` when every edit applied (or
    /// already had).
    pub fn failure(&self) -> Option<CliError> {
        let Some(report) = &self.report else {
            let first = self
                .parsed
                .problems
                .first()
                .map(|p| format!(" (line {}: {})", p.line, p.message))
                .unwrap_or_default();
            return Some(
                CliError::new(
                    Exit::NotEdits,
                    format!("the reply holds no well-formed edits{first}; nothing written"),
                )
                .hint("send the problems back to the model (`--json` gives them as `feedback`), or pick the format with --format"),
            );
        };
        if let Some(error) = &report.write_error {
            return Some(
                CliError::new(Exit::Output, format!("cannot write the edits: {error}"))
                    .hint("check that the files and their directories are writable and the disk is not full"),
            );
        }
        let Tally {
            failed, refused, ..
        } = report.tally();
        let total = report.outcomes.len();
        let written = if report.written() {
            "the files of the edits that applied were written"
        } else {
            "nothing written"
        };
        if refused > 0 {
            let first = report.outcomes.iter().find_map(|o| match &o.status {
                EditStatus::Refused { refusal } => Some(refusal.to_string()),
                _ => None,
            });
            return Some(
                CliError::new(
                    Exit::EditRefused,
                    format!(
                        "{refused} of {total} edit(s) refused: {}; nothing written",
                        first.unwrap_or_default()
                    ),
                )
                .hint("edits may only touch files under --root (and --allow); check the paths the model wrote"),
            );
        }
        if failed > 0 {
            return Some(
                CliError::new(
                    Exit::EditsFailed,
                    format!("{failed} of {total} edit(s) did not match their file; {written}"),
                )
                .hint("send the report back to the model (`--json` gives it as `feedback`); edits already applied are safe to resend"),
            );
        }
        None
    }
}

fn problems_text(parsed: &Parsed) -> String {
    parsed
        .problems
        .iter()
        .map(|p| format!("line {}: {}\n", p.line, p.message))
        .collect()
}
