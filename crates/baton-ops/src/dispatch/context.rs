//! The context of a dispatch: the caller's stdin text, files and globs framed with their
//! paths, then the sections of long documents most relevant to the task within what is left
//! of the route's budget.

use std::path::{Path, PathBuf};

use baton_llm::context::{self, ContextPart};

use crate::{OpsError, Project};

/// The stdin text (when not blank) and the files of `patterns`, in order; the files found
/// are returned too (the only one is what a reply naming no file edits).
pub(super) fn direct(
    project: &Project,
    stdin: Option<String>,
    patterns: &[String],
) -> Result<(Vec<ContextPart>, Vec<PathBuf>), OpsError> {
    let mut parts = Vec::new();
    if let Some(text) = stdin.filter(|text| !text.trim().is_empty()) {
        parts.push(ContextPart::stdin(text));
    }
    let files = context::expand_patterns(patterns, project.cwd())?;
    for path in &files {
        parts.push(context::read_file(path, project.cwd())?);
    }
    Ok((parts, files))
}

/// Adds, for each document, the sections most relevant to `task` that fit in what `parts`
/// leave of `budget`.
pub(super) fn sections(
    project: &Project,
    documents: &[PathBuf],
    task: &str,
    budget: u64,
    parts: &mut Vec<ContextPart>,
) -> Result<(), OpsError> {
    for document in documents {
        let path = project.resolve(document);
        let text = std::fs::read_to_string(&path).map_err(|source| OpsError::Read {
            what: "the document to take sections from",
            path: path.clone(),
            source,
        })?;
        let used: u64 = parts.iter().map(|part| part.tokens).sum();
        let selection = baton_llm::sections::select(&text, task, budget.saturating_sub(used));
        let name = file_name(&path);
        if !selection.sections.is_empty() {
            let rendered = baton_llm::sections::render(&selection, &name);
            parts.push(ContextPart::sections(&name, rendered));
        }
        tracing::info!(doc = %path.display(), picked = selection.sections.len(), dropped = selection.dropped, "sections chosen");
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `file` relative to `root`, when it lies under it.
pub(super) fn relative_to(root: &Path, file: &Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    let file = file.canonicalize().ok()?;
    file.strip_prefix(&root)
        .ok()
        .map(|relative| relative.to_string_lossy().into_owned())
}
