//! Applying a model's reply to files and recording what became of it in the edits ledger:
//! the glue between `baton-edit` (which parses and applies, and knows nothing of the store)
//! and the store, shared by `baton apply`, `dispatch --apply` and the pipeline.
//!
//! A reply is parsed in the format asked for. When it holds no edit in that format but
//! another format is detected, the reply is applied in that one (the files get what the
//! model meant) and recorded as not well-formed (the model did not follow the format).

use std::path::PathBuf;

use baton_core::event::{FileStatus, FileTouched};
use baton_core::{EditFormat, EditRecord};
use baton_edit::{
    ApplyOptions, ApplyReport, EditOutcome, EditStatus, FileChange, ParseProblem, Parsed, Tally,
};
use baton_store::Store;
use serde::Serialize;

use crate::{OpsError, Project};

/// Where and how edits may be applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyTarget {
    /// The directory the reply's paths are relative to (relative to the project's working
    /// directory; default: the working directory itself).
    pub root: Option<PathBuf>,
    /// Only these files may change (`DIR/` allows a directory); empty: any under the root.
    pub allow: Vec<String>,
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Write the files whose edits applied even when other edits failed.
    pub partial: bool,
}

/// One reply to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    pub reply: String,
    /// The format asked for; `None`: detect it.
    pub format: Option<EditFormat>,
    pub target: ApplyTarget,
    /// The model that wrote the reply, for the ledger.
    pub model: Option<String>,
    /// The dispatch request the reply answered.
    pub request_id: Option<String>,
    /// The files the model was shown, relative to the root: with one, a reply that names no
    /// file means it; with any, an edit for a context file's path with the prompt example's
    /// directory in front means the context file ([`baton_edit::parse_with_context`]).
    pub context_files: Vec<String>,
}

/// What applying one reply did: the one shape `baton apply --json`, `dispatch --apply` and
/// the MCP tools print.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyResponse {
    /// The format asked for (`None`: detected).
    pub format: Option<EditFormat>,
    /// The format the reply was parsed as.
    pub parsed_as: Option<EditFormat>,
    /// Parsed in the format asked for.
    pub well_formed: bool,
    pub problems: Vec<ParseProblem>,
    /// One per edit; `None` when the reply held no edits to apply.
    pub edits: Option<Vec<EditOutcome>>,
    pub files: Option<Vec<FileChange>>,
    pub written: bool,
    pub write_error: Option<String>,
    /// What to send back to the model: the parse problems, or the failed edits.
    pub feedback: String,
    /// The edits ledger row; `None` when no format was asked and none was found (there is
    /// no format to count the reply under).
    pub record_id: Option<String>,
}

/// The checked apply options of `target`: the root made absolute and required to be a
/// directory (checked before any model is called: a bad root would waste the call).
pub fn options(project: &Project, target: &ApplyTarget) -> Result<ApplyOptions, OpsError> {
    let root = match &target.root {
        Some(root) => project.resolve(root),
        None => project.cwd().to_path_buf(),
    };
    if !root.is_dir() {
        return Err(OpsError::NotADirectory {
            what: "the root to apply edits under",
            path: root,
        });
    }
    Ok(ApplyOptions {
        root,
        allow: (!target.allow.is_empty()).then(|| target.allow.clone()),
        dry_run: target.dry_run,
        partial: target.partial,
        fuzzy_threshold: ApplyOptions::DEFAULT_FUZZY_THRESHOLD,
    })
}

/// Parses, applies and records a reply; see the module documentation.
pub async fn apply(project: &Project, request: ApplyRequest) -> Result<ApplyResponse, OpsError> {
    let options = options(project, &request.target)?;
    let store = project.store()?;
    apply_with(&store, &request, &options)
}

/// [`apply`] with options already checked, on an open store (dispatch checks them before
/// calling the model).
pub(crate) fn apply_with(
    store: &Store,
    request: &ApplyRequest,
    options: &ApplyOptions,
) -> Result<ApplyResponse, OpsError> {
    let context: Vec<&str> = request.context_files.iter().map(String::as_str).collect();
    let mut parsed = baton_edit::parse_with_context(&request.reply, request.format, &context);
    if request.format.is_some() && parsed.edits.is_empty() {
        let detected = baton_edit::parse_with_context(&request.reply, None, &context);
        if detected.is_well_formed() {
            parsed = detected;
        }
    }
    let report = parsed
        .is_well_formed()
        .then(|| baton_edit::apply(&parsed.edits, options));
    let well_formed = parsed.is_well_formed()
        && request
            .format
            .is_none_or(|asked| parsed.format == Some(asked));
    let record_id = match request.format.or(parsed.format) {
        Some(format) => {
            let record = ledger_record(
                request,
                options,
                format,
                &parsed,
                report.as_ref(),
                well_formed,
            );
            let files: Vec<FileTouched> = report
                .iter()
                .flat_map(|report| &report.files)
                .map(touched)
                .collect();
            store.record_edit(&record, &files)?;
            Some(record.id)
        }
        None => None,
    };
    let feedback = match &report {
        Some(report) => report.feedback(),
        None => problems_text(&parsed),
    };
    Ok(ApplyResponse {
        format: request.format,
        parsed_as: parsed.format,
        well_formed,
        problems: parsed.problems,
        written: report.as_ref().is_some_and(ApplyReport::written),
        write_error: report.as_ref().and_then(|r| r.write_error.clone()),
        edits: report.as_ref().map(|r| r.outcomes.clone()),
        files: report.map(|r| r.files),
        feedback,
        record_id,
    })
}

fn ledger_record(
    request: &ApplyRequest,
    options: &ApplyOptions,
    format: EditFormat,
    parsed: &Parsed,
    report: Option<&ApplyReport>,
    well_formed: bool,
) -> EditRecord {
    let tally = report.map(ApplyReport::tally).unwrap_or_default();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    EditRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: request.request_id.clone(),
        at_ms: baton_core::now_ms(),
        model: request.model.clone(),
        format,
        parsed_as: parsed.format,
        well_formed,
        edits: count(parsed.edits.len()),
        applied: count(tally.applied),
        already_applied: count(tally.already_applied),
        failed: count(tally.failed),
        refused: count(tally.refused),
        written: report.is_some_and(ApplyReport::written),
        dry_run: options.dry_run,
    }
}

/// What the edits ledger's event keeps of a changed file.
fn touched(file: &FileChange) -> FileTouched {
    FileTouched {
        path: file.path.clone(),
        status: match file.status {
            baton_edit::FileStatus::Created => FileStatus::Created,
            baton_edit::FileStatus::Modified => FileStatus::Modified,
            baton_edit::FileStatus::Deleted => FileStatus::Deleted,
        },
        insertions: file.insertions,
        deletions: file.deletions,
        written: file.written,
    }
}

fn problems_text(parsed: &Parsed) -> String {
    parsed
        .problems
        .iter()
        .map(|p| format!("line {}: {}\n", p.line, p.message))
        .collect()
}

impl ApplyResponse {
    /// The outcomes counted by status (all zero when the reply held no edits).
    pub fn tally(&self) -> Tally {
        Tally::of(self.edits.as_deref().unwrap_or_default())
    }

    /// The outcome as an error, or `None` when every edit applied (or already had).
    pub fn failure(&self) -> Option<OpsError> {
        let Some(edits) = &self.edits else {
            let first = self
                .problems
                .first()
                .map(|p| format!("line {}: {}", p.line, p.message));
            return Some(OpsError::NotEdits { first });
        };
        if let Some(why) = &self.write_error {
            return Some(OpsError::WriteEdits { why: why.clone() });
        }
        let Tally {
            failed, refused, ..
        } = self.tally();
        let total = edits.len();
        if refused > 0 {
            let first = edits
                .iter()
                .find_map(|o| match &o.status {
                    EditStatus::Refused { refusal } => Some(refusal.to_string()),
                    _ => None,
                })
                .unwrap_or_default();
            return Some(OpsError::EditRefused {
                refused,
                total,
                first,
            });
        }
        if failed > 0 {
            return Some(OpsError::EditsFailed {
                failed,
                total,
                written: self.written,
            });
        }
        None
    }
}
