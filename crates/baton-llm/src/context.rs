//! The context a request carries: files (`--context`, globs), piped stdin, and sections of
//! long documents (`--context-from`), each framed with where it came from, checked against
//! the route's budget before anything is sent. Nothing is ever cut silently: a context over
//! budget is refused with what to do.

use std::path::{Path, PathBuf};

use baton_core::estimate_tokens;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where a piece of context came from, which decides how it is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextKind {
    /// A file (`--context`), framed with its path.
    File,
    /// Piped stdin.
    Stdin,
    /// Sections chosen from a long document (`--context-from`), already framed with their
    /// headings.
    Sections,
}

/// One piece of context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContextPart {
    pub kind: ContextKind,
    /// A path, `stdin`, or `from DOC.md`.
    pub label: String,
    #[serde(skip)]
    pub text: String,
    pub tokens: u64,
    /// SHA-256 of the content, part of the cache key.
    pub sha256: String,
}

impl ContextPart {
    /// A file's content, labelled with its path.
    pub fn new(label: impl Into<String>, text: String) -> Self {
        Self::of_kind(ContextKind::File, label.into(), text)
    }

    /// Piped stdin.
    pub fn stdin(text: String) -> Self {
        Self::of_kind(ContextKind::Stdin, "stdin".into(), text)
    }

    /// Sections of the document `source`, as rendered by [`crate::sections::render`].
    pub fn sections(source: &str, rendered: String) -> Self {
        Self::of_kind(ContextKind::Sections, format!("from {source}"), rendered)
    }

    fn of_kind(kind: ContextKind, label: String, text: String) -> Self {
        let sha256 = hex(&Sha256::digest(text.as_bytes()));
        Self {
            kind,
            label,
            tokens: estimate_tokens(&text),
            text,
            sha256,
        }
    }
}

/// Problems gathering or fitting context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("invalid context pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error("context `{pattern}` matches no file")]
    NoMatch { pattern: String },
    #[error("cannot read context file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("context file {} is not UTF-8 text", path.display())]
    Binary { path: PathBuf },
    #[error(
        "context is ~{total} tokens, over the budget of {budget} for this route (largest: {largest})"
    )]
    OverBudget {
        total: u64,
        budget: u64,
        largest: String,
    },
}

/// Expands `--context` arguments (paths or globs) to files, in argument order, each once.
pub fn expand_patterns(patterns: &[String], cwd: &Path) -> Result<Vec<PathBuf>, ContextError> {
    let mut files = Vec::new();
    for pattern in patterns {
        let absolute = if Path::new(pattern).is_absolute() {
            pattern.clone()
        } else {
            cwd.join(pattern).to_string_lossy().into_owned()
        };
        let is_glob = pattern.contains(['*', '?', '[']);
        let mut matched = Vec::new();
        if is_glob {
            let paths = glob::glob(&absolute).map_err(|error| ContextError::Pattern {
                pattern: pattern.clone(),
                message: error.msg.to_string(),
            })?;
            for path in paths.flatten() {
                if path.is_file() {
                    matched.push(path);
                }
            }
        } else {
            let path = PathBuf::from(&absolute);
            if path.is_dir() {
                return Err(ContextError::Pattern {
                    pattern: pattern.clone(),
                    message: "is a directory; use a glob such as `dir/**/*.rs`".into(),
                });
            }
            if path.exists() {
                matched.push(path);
            }
        }
        if matched.is_empty() {
            return Err(ContextError::NoMatch {
                pattern: pattern.clone(),
            });
        }
        matched.sort();
        for path in matched {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Reads a file as a context part labelled with its path relative to `cwd`.
pub fn read_file(path: &Path, cwd: &Path) -> Result<ContextPart, ContextError> {
    let bytes = std::fs::read(path).map_err(|source| ContextError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ContextError::Binary {
        path: path.to_path_buf(),
    })?;
    let label = path
        .strip_prefix(cwd)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    Ok(ContextPart::new(label, text))
}

/// A fence longer than any run of backticks in `text`, so content never closes it early.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Frames a part with its label.
pub fn frame(part: &ContextPart) -> String {
    let fence = fence_for(&part.text);
    let body = part.text.strip_suffix('\n').unwrap_or(&part.text);
    match part.kind {
        ContextKind::Stdin => format!("Input (stdin):\n{fence}\n{body}\n{fence}\n"),
        ContextKind::Sections => format!("{body}\n"),
        ContextKind::File => format!("File: {}\n{fence}\n{body}\n{fence}\n", part.label),
    }
}

/// The user message: context first, the task last (models follow the end of a prompt best).
pub fn user_message(task: &str, parts: &[ContextPart]) -> String {
    if parts.is_empty() {
        return task.to_string();
    }
    let mut message = String::from("# Context\n\n");
    for part in parts {
        message.push_str(&frame(part));
        message.push('\n');
    }
    message.push_str("# Task\n\n");
    message.push_str(task);
    message
}

/// Checks the parts fit the budget.
pub fn check_budget(parts: &[ContextPart], budget: u64) -> Result<u64, ContextError> {
    let total: u64 = parts.iter().map(|part| part.tokens).sum();
    if total > budget {
        let largest = parts
            .iter()
            .max_by_key(|part| part.tokens)
            .map(|part| format!("{} ~{} tokens", part.label, part.tokens))
            .unwrap_or_default();
        return Err(ContextError::OverBudget {
            total,
            budget,
            largest,
        });
    }
    Ok(total)
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outgrows_backticks_in_the_content() {
        let part = ContextPart::new("README.md", "```rust\nfn x() {}\n```\n".into());
        let framed = frame(&part);
        assert!(framed.starts_with("File: README.md\n````\n"), "{framed}");
        assert!(framed.ends_with("\n````\n"));
    }

    #[test]
    fn the_task_comes_after_the_context() {
        let message = user_message("do it", &[ContextPart::stdin("data".into())]);
        assert!(message.find("data").unwrap() < message.find("do it").unwrap());
    }

    #[test]
    fn a_context_over_budget_names_its_largest_part() {
        let parts = vec![
            ContextPart::new("big.rs", "x".repeat(400)),
            ContextPart::new("small.rs", "y".into()),
        ];
        let error = check_budget(&parts, 50).unwrap_err().to_string();
        assert!(error.contains("big.rs ~100 tokens"), "{error}");
        assert_eq!(check_budget(&parts, 1000).unwrap(), 101);
    }

    #[test]
    fn globs_expand_sorted_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.rs"), "b").unwrap();
        std::fs::write(dir.path().join("a.rs"), "a").unwrap();
        let files = expand_patterns(&["*.rs".into()], dir.path()).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("a.rs"), dir.path().join("b.rs")]
        );
        assert!(matches!(
            expand_patterns(&["nope.rs".into()], dir.path()),
            Err(ContextError::NoMatch { .. })
        ));
    }
}
