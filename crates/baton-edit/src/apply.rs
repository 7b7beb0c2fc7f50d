//! Applying parsed edits under a root directory: every edit is checked (path safety, file
//! readable as text, SEARCH text or hunk located) against the files' contents in memory
//! before any file is written; then each changed file is written atomically (a temp file in
//! its directory, renamed over it), keeping its permissions and line endings.
//!
//! Parts: this file holds the contract and the order of work (check, compute, plan, write);
//! `apply/kinds.rs` computes whole-file, create, delete and SEARCH/REPLACE edits and
//! `apply/patch.rs` unified-diff hunks, both on text in memory (matching itself is in
//! `crate::matching`); `apply/text.rs` turns bytes into that text and back (BOM, CRLF,
//! binary); `apply/write.rs` does the atomic writes; `apply/report.rs` words the reports
//! and the feedback for the model.
//!
//! A reply is all or nothing: a refused edit stops every write, a failed one too unless
//! [`ApplyOptions::partial`]. Several edits to one file apply in order on its text in
//! memory; the file is written once. An edit echoing a prompt's example
//! ([`Edit::example`]) is never applied: it is dropped, with a note and no failure,
//! when its file does not exist (the model echoed the example before its answer), and fails
//! when the file exists. An edit whose written path does not exist but that has an
//! [`Edit::context_file`] edits that file instead, with a note on its outcome.

mod kinds;
mod patch;
mod report;
mod text;
mod write;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::edit::{Edit, EditKind, HunkLine};
use crate::safety::{self, Refusal, Target};

use kinds::Step;
use text::TextFormat;
use write::Keep;

/// Files larger than this are not read: edits are for source text, and a file this big is
/// generated or data.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How and where to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The directory every edit's path is relative to.
    pub root: PathBuf,
    /// When given, the only files (relative paths, as normalized by the safety rules) edits
    /// may touch; an entry ending in `/` allows every file under that directory.
    pub allow: Option<Vec<String>>,
    /// Check and report everything, write nothing.
    pub dry_run: bool,
    /// Write the files of the edits that applied even when others failed (a refused edit
    /// still stops everything). Off by default: a reply applies whole or not at all.
    pub partial: bool,
    /// The least similarity (0..=1) a fuzzy SEARCH match must reach; above 1 (or NaN)
    /// turns fuzzy matching off.
    pub fuzzy_threshold: f64,
}

impl ApplyOptions {
    /// The fuzzy threshold [`ApplyOptions::new`] sets. Similarity is measured on lines with
    /// whitespace squashed, so 0.9 allows a typo or two per few lines, not a different line.
    pub const DEFAULT_FUZZY_THRESHOLD: f64 = 0.9;

    /// Applies under `root` with no allow-list, writing, all or nothing, and the default
    /// fuzzy threshold.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ApplyOptions {
            root: root.into(),
            allow: None,
            dry_run: false,
            partial: false,
            fuzzy_threshold: Self::DEFAULT_FUZZY_THRESHOLD,
        }
    }
}

/// What applying a reply's edits did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// One per edit, in the reply's order.
    pub outcomes: Vec<EditOutcome>,
    /// One per file the edits change (or would change, in a dry run), in first-touched order.
    pub files: Vec<FileChange>,
    /// Why writing stopped part way: the file that could not be written and the cause.
    /// Files written before it stay written ([`FileChange::written`] says which).
    pub write_error: Option<String>,
}

/// What became of one edit.
#[derive(Debug, Clone, Serialize)]
pub struct EditOutcome {
    /// The edit's index in the reply.
    pub index: usize,
    pub path: String,
    /// [`crate::EditKind::name`].
    pub kind: &'static str,
    /// Flattened in JSON: `"status": "applied", "method": "exact"`.
    #[serde(flatten)]
    pub status: EditStatus,
    /// Set when the edit went to its [`Edit::context_file`] because the path the reply wrote
    /// does not exist: says which path was written and which file was edited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The edit's change is part of what was written (in a dry run: would be written).
    /// False for edits that failed, were refused or were already applied, and for applied
    /// edits whose file is not written: another edit to it failed, the reply as a whole did
    /// not apply, or writing stopped before it.
    pub committed: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum EditStatus {
    /// The edit changed the file's content (in memory; written unless the reply failed).
    Applied {
        #[serde(flatten)]
        method: MatchMethod,
    },
    /// The file already holds what the edit would make: nothing to do, not a failure.
    AlreadyApplied,
    /// The edit could not be located or does not fit the file; `report` says so in words
    /// meant for the model (the path, the SEARCH text, the closest lines found).
    Failed { report: String },
    /// The edit's path or file is refused by the safety rules.
    Refused { refusal: crate::Refusal },
    /// Not applied, and not a failure: the edit echoes a prompt's example ([`Edit::example`])
    /// for a file that does not exist, as models echo the example before their answer; `note`
    /// says so.
    Dropped { note: String },
}

/// How an edit's target text was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum MatchMethod {
    /// No search needed: whole file, create, delete.
    Direct,
    Exact,
    /// Equal once whitespace differences are ignored.
    IgnoringWhitespace,
    /// The best unique match, with its similarity.
    Fuzzy {
        similarity: f64,
    },
}

/// One file a reply changes.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub status: FileStatus,
    /// Lines added and removed (a diffstat).
    pub insertions: usize,
    pub deletions: usize,
    /// Whether the change is on disk: false in a dry run, and for files after a write error.
    pub written: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Created,
    Modified,
    Deleted,
}

/// How many edits of a reply ended each way ([`ApplyReport::tally`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub applied: usize,
    pub already_applied: usize,
    pub failed: usize,
    pub refused: usize,
    pub dropped: usize,
}

impl Tally {
    /// `outcomes` counted by status.
    pub fn of(outcomes: &[EditOutcome]) -> Tally {
        let mut tally = Tally::default();
        for outcome in outcomes {
            let count = match outcome.status {
                EditStatus::Applied { .. } => &mut tally.applied,
                EditStatus::AlreadyApplied => &mut tally.already_applied,
                EditStatus::Failed { .. } => &mut tally.failed,
                EditStatus::Refused { .. } => &mut tally.refused,
                EditStatus::Dropped { .. } => &mut tally.dropped,
            };
            *count += 1;
        }
        tally
    }
}

impl ApplyReport {
    /// Whether any file was written.
    pub fn written(&self) -> bool {
        self.files.iter().any(|file| file.written)
    }

    /// The outcomes counted by status.
    pub fn tally(&self) -> Tally {
        Tally::of(&self.outcomes)
    }

    /// The message to send back to the model when edits failed or were refused: which edits
    /// failed and why, which applied (so it does not resend them) and which matched but
    /// were not written (so it does). Empty when all applied. Edits are numbered from 1.
    pub fn feedback(&self) -> String {
        report::feedback(self)
    }
}

/// Applies `edits` under `options.root`; see the module documentation.
pub fn apply(edits: &[Edit], options: &ApplyOptions) -> ApplyReport {
    let mut report = ApplyReport {
        outcomes: Vec::with_capacity(edits.len()),
        files: Vec::new(),
        write_error: None,
    };
    let root = match canonical_root(&options.root) {
        Ok(root) => root,
        Err(why) => {
            for edit in edits {
                report.outcomes.push(outcome(
                    edit,
                    EditStatus::Failed {
                        report: why.clone(),
                    },
                ));
            }
            return report;
        }
    };

    // 1. Check and compute every edit in memory.
    let mut slots: Vec<Slot> = Vec::new();
    let mut slot_of_edit: Vec<Option<usize>> = Vec::with_capacity(edits.len());
    for edit in edits {
        let redirected = to_context_file(edit, &root, options);
        let used = redirected.as_ref().unwrap_or(edit);
        let (status, slot) = apply_edit(used, &root, options, &mut slots);
        let mut done = outcome(used, status);
        if redirected.is_some() {
            done.note = Some(format!(
                "The reply wrote `{}`, which does not exist: edited the context file `{}`.",
                edit.path, used.path
            ));
        }
        report.outcomes.push(done);
        slot_of_edit.push(slot);
    }
    let tally = report.tally();
    if tally.refused > 0 || (tally.failed > 0 && !options.partial) {
        return report;
    }

    // 2. Plan: the files whose edits all applied and whose text changed.
    let mut planned: Vec<usize> = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        if let Some(change) = slot.change() {
            planned.push(index);
            report.files.push(change);
        }
    }

    // 3. Write, in first-touched order, stopping at the first failure.
    if !options.dry_run {
        for (position, &index) in planned.iter().enumerate() {
            match slots[index].write() {
                Ok(()) => report.files[position].written = true,
                Err(error) => {
                    report.write_error = Some(write_error(&report.files, position, &error));
                    break;
                }
            }
        }
    }
    for (outcome, slot) in report.outcomes.iter_mut().zip(slot_of_edit) {
        // `files[position]` is the change of `slots[planned[position]]`.
        let position = slot.and_then(|slot| planned.iter().position(|&index| index == slot));
        outcome.committed = matches!(outcome.status, EditStatus::Applied { .. })
            && position.is_some_and(|position| options.dry_run || report.files[position].written);
    }
    report
}

fn outcome(edit: &Edit, status: EditStatus) -> EditOutcome {
    EditOutcome {
        index: edit.origin.index,
        path: edit.path.clone(),
        kind: edit.kind.name(),
        status,
        note: None,
        committed: false,
    }
}

/// `edit` for its [`Edit::context_file`], when it has one, the path it wrote is permitted but
/// does not exist, and the context file does: what the model meant (it copied the example's
/// path onto its answer). `None`: apply `edit` as written.
fn to_context_file(edit: &Edit, root: &Path, options: &ApplyOptions) -> Option<Edit> {
    let file = edit.context_file.as_ref()?;
    let exists = |path: &str| {
        let target = safety::check(root, path, options.allow.as_deref()).ok()?;
        Some(fs::symlink_metadata(&target.resolved).is_ok())
    };
    if exists(&edit.path)? || !exists(file)? {
        return None;
    }
    Some(Edit {
        path: file.clone(),
        context_file: None,
        example: false,
        ..edit.clone()
    })
}

fn canonical_root(root: &Path) -> Result<PathBuf, String> {
    let canonical = fs::canonicalize(root)
        .map_err(|error| format!("the root `{}` cannot be used: {error}", root.display()))?;
    if canonical.is_dir() {
        Ok(canonical)
    } else {
        Err(format!("the root `{}` is not a directory", root.display()))
    }
}

fn write_error(files: &[FileChange], position: usize, error: &io::Error) -> String {
    let names = |files: &[FileChange]| {
        if files.is_empty() {
            "none".to_owned()
        } else {
            files
                .iter()
                .map(|file| format!("`{}`", file.path))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "`{}` could not be written: {error}. Written before it (and kept): {}. Not written: {}.",
        files[position].path,
        names(&files[..position]),
        names(&files[position..]),
    )
}

/// Checks one edit and applies it to its file's text in memory.
fn apply_edit(
    edit: &Edit,
    root: &Path,
    options: &ApplyOptions,
    slots: &mut Vec<Slot>,
) -> (EditStatus, Option<usize>) {
    let target = match safety::check(root, &edit.path, options.allow.as_deref()) {
        Ok(target) => target,
        Err(refusal) => return (EditStatus::Refused { refusal }, None),
    };
    if edit.example {
        return (copied_example(edit, &target), None);
    }
    if writes_nul(&edit.kind) {
        let refusal = Refusal::Binary {
            path: edit.path.clone(),
        };
        return (EditStatus::Refused { refusal }, None);
    }
    // One slot per real file, so `./a.rs`, `a.rs` and a symlink to it share their text.
    let index = match slots
        .iter()
        .position(|slot| slot.target.resolved == target.resolved)
    {
        Some(index) => index,
        None => {
            let state = load(&target, &edit.path);
            slots.push(Slot { target, state });
            slots.len() - 1
        }
    };
    let slot = &mut slots[index];
    let (current, failed) = match &mut slot.state {
        SlotState::Ready {
            current, failed, ..
        } => (current, failed),
        SlotState::Binary => {
            let refusal = Refusal::Binary {
                path: edit.path.clone(),
            };
            return (EditStatus::Refused { refusal }, Some(index));
        }
        SlotState::Unusable(report) => {
            let report = report.clone();
            return (EditStatus::Failed { report }, Some(index));
        }
    };
    let threshold = options.fuzzy_threshold;
    let path = edit.path.as_str();
    let step = match &edit.kind {
        EditKind::Whole { content } => kinds::whole(current.as_deref(), content),
        EditKind::SearchReplace { search, replace } => {
            kinds::search_replace(path, current.as_deref(), search, replace, threshold)
        }
        EditKind::Patch { hunks } => patch::patch(path, current.as_deref(), hunks, threshold),
        EditKind::Create { content } => kinds::create(path, current.as_deref(), content),
        EditKind::Delete => kinds::delete(current.as_deref()),
    };
    let status = match step {
        Step::Changed { text, method } => {
            *current = text;
            EditStatus::Applied { method }
        }
        Step::Already => EditStatus::AlreadyApplied,
        Step::Failed(report) => {
            *failed = true;
            EditStatus::Failed { report }
        }
    };
    (status, Some(index))
}

/// What becomes of an edit echoing a prompt's example: dropped when its file does not exist
/// (nothing is lost by not writing the echo), failed when it does (writing the echo over the
/// file would destroy it, and the model meant something else for it).
fn copied_example(edit: &Edit, target: &Target) -> EditStatus {
    let path = &edit.path;
    match fs::symlink_metadata(&target.resolved) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => EditStatus::Dropped {
            note: format!(
                "`{path}` echoes the example of the instructions, and no such file exists: \
                 not written."
            ),
        },
        _ => EditStatus::Failed {
            report: format!(
                "`{path}`: this edit echoes the example of the instructions instead of \
                 changing the file. Write the file's real change, or leave the file out."
            ),
        },
    }
}

/// Whether the edit would put a NUL byte in a file: that makes it binary.
fn writes_nul(kind: &EditKind) -> bool {
    match kind {
        EditKind::Whole { content } | EditKind::Create { content } => content.contains('\0'),
        EditKind::SearchReplace { replace, .. } => replace.contains('\0'),
        EditKind::Patch { hunks } => hunks
            .iter()
            .flat_map(|hunk| &hunk.lines)
            .any(|line| matches!(line, HunkLine::Add(text) if text.contains('\0'))),
        EditKind::Delete => false,
    }
}

/// One file the reply touches.
struct Slot {
    target: Target,
    state: SlotState,
}

enum SlotState {
    /// Readable as text, or missing.
    Ready {
        /// `None`: the file did not exist.
        original: Option<Original>,
        /// The text after the edits so far; `None`: missing or deleted.
        current: Option<String>,
        /// An edit to it failed: it is not written, even with [`ApplyOptions::partial`].
        failed: bool,
    },
    /// Not UTF-8 text, or holds a NUL: every edit to it is refused.
    Binary,
    /// A directory, not a regular file, too large or unreadable: every edit to it fails
    /// with this report.
    Unusable(String),
}

struct Original {
    format: TextFormat,
    text: String,
    keep: Keep,
}

fn load(target: &Target, path: &str) -> SlotState {
    let metadata = match fs::metadata(&target.resolved) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return SlotState::Ready {
                original: None,
                current: None,
                failed: false,
            };
        }
        Err(error) if error.kind() == io::ErrorKind::NotADirectory => {
            return SlotState::Unusable(format!(
                "`{path}` cannot be a file: part of its directory path is a file, not a \
                 directory."
            ));
        }
        Err(error) => return SlotState::Unusable(format!("`{path}` cannot be read: {error}.")),
    };
    if metadata.is_dir() {
        return SlotState::Unusable(format!(
            "`{path}` is a directory, and edits change files. Name a file inside it."
        ));
    }
    if !metadata.is_file() {
        return SlotState::Unusable(format!("`{path}` is not a regular file."));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return SlotState::Unusable(format!(
            "`{path}` has {} bytes, more than the {MAX_FILE_BYTES} edited as text.",
            metadata.len()
        ));
    }
    let bytes = match fs::read(&target.resolved) {
        Ok(bytes) => bytes,
        Err(error) => return SlotState::Unusable(format!("`{path}` cannot be read: {error}.")),
    };
    match text::decode(&bytes) {
        Some((format, text)) => SlotState::Ready {
            current: Some(text.clone()),
            original: Some(Original {
                format,
                text,
                keep: Keep::of(&metadata),
            }),
            failed: false,
        },
        None => SlotState::Binary,
    }
}

impl Slot {
    /// The change to write, when every edit to the file applied and its text changed.
    fn change(&self) -> Option<FileChange> {
        let SlotState::Ready {
            original,
            current,
            failed: false,
        } = &self.state
        else {
            return None;
        };
        let old = original.as_ref().map(|original| original.text.as_str());
        let status = match (old, current.as_deref()) {
            (old, new) if old == new => return None,
            (None, _) => FileStatus::Created,
            (_, None) => FileStatus::Deleted,
            (Some(_), Some(_)) => FileStatus::Modified,
        };
        let (insertions, deletions) = write::diffstat(
            old.unwrap_or_default(),
            current.as_deref().unwrap_or_default(),
        );
        Some(FileChange {
            path: self.target.relative.clone(),
            status,
            insertions,
            deletions,
            written: false,
        })
    }

    fn write(&self) -> io::Result<()> {
        let SlotState::Ready {
            original, current, ..
        } = &self.state
        else {
            return Ok(());
        };
        match current {
            Some(text) => {
                // A file deleted and created again in one reply keeps its old format.
                let format = original
                    .as_ref()
                    .map_or(TextFormat::default(), |o| o.format);
                let bytes = text::encode(format, text);
                let keep = original.as_ref().map(|original| &original.keep);
                write::write_atomic(&self.target.resolved, &bytes, keep)
            }
            None => write::remove(&self.target.unlink),
        }
    }
}
