//! Which paths an edit may touch, and where a permitted path really leads.
//!
//! A path from a model is refused ([`Refusal`]) when it is empty or holds a NUL byte, is
//! absolute, climbs with `..`, names anything inside a `.git` directory, falls outside the
//! caller's allow-list, or resolves through a symlink to outside the root. What passes becomes
//! a [`Target`]: the normalized relative path for reports and the resolved paths the applier
//! reads, writes and deletes. The binary-content rules live with the text decoding in
//! `apply/text.rs`; they produce [`Refusal::Binary`].
//!
//! The check and the later write are not atomic: a symlink swapped in between would be
//! followed. Baton applies edits in a checkout it owns, so that race is out of scope.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Why an edit's path or file is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Refusal {
    #[error("`{path}` is absolute; give a path relative to the root")]
    Absolute { path: String },
    #[error("`{path}` contains `..`")]
    ParentDir { path: String },
    #[error("`{path}` resolves through a symlink to outside the root")]
    SymlinkEscape { path: String },
    #[error("`{path}` is not among the allowed files")]
    NotAllowed { path: String },
    #[error("`{path}` is inside `.git`")]
    GitDir { path: String },
    #[error("`{path}` is a binary file")]
    Binary { path: String },
    #[error("`{path}` is not a valid path: {why}")]
    Invalid { path: String, why: String },
}

impl Refusal {
    /// The path the refusal is about, as the edit gave it.
    pub fn path(&self) -> &str {
        match self {
            Refusal::Absolute { path }
            | Refusal::ParentDir { path }
            | Refusal::SymlinkEscape { path }
            | Refusal::NotAllowed { path }
            | Refusal::GitDir { path }
            | Refusal::Binary { path }
            | Refusal::Invalid { path, .. } => path,
        }
    }
}

/// A permitted path, resolved under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Relative to the root, normalized: `./src//a.rs` becomes `src/a.rs`.
    pub(crate) relative: String,
    /// Where the content is read and written: every symlink on the way resolved, the file's
    /// own included, so that editing a symlinked file edits its target and the link stays.
    pub(crate) resolved: PathBuf,
    /// What a delete removes: the directories resolved but not the last component, so that
    /// deleting a symlink removes the link, as `rm` would.
    pub(crate) unlink: PathBuf,
}

/// The normal components of `path`, or why it is refused. `.` and empty components (`a//b`,
/// a trailing `/`) are dropped, as the filesystem would.
pub(crate) fn components(path: &str) -> Result<Vec<&str>, Refusal> {
    let refuse_invalid = |why: &str| Refusal::Invalid {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    if path.is_empty() {
        return Err(refuse_invalid("it is empty"));
    }
    if path.contains('\0') {
        return Err(refuse_invalid("it contains a NUL byte"));
    }
    if path.starts_with('/') {
        return Err(Refusal::Absolute {
            path: path.to_owned(),
        });
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Refusal::ParentDir {
            path: path.to_owned(),
        });
    }
    if parts.iter().copied().any(is_git_dir) {
        return Err(Refusal::GitDir {
            path: path.to_owned(),
        });
    }
    if parts.is_empty() {
        return Err(refuse_invalid("it names the root directory, not a file"));
    }
    Ok(parts)
}

/// `.git` in any case: git itself refuses `.GIT` in trees (case-insensitive filesystems), and
/// refusing it here costs nothing.
fn is_git_dir(part: &str) -> bool {
    part.eq_ignore_ascii_case(".git")
}

/// Whether the allow-list admits the normalized `parts`. An entry ending in `/` (or naming
/// the root, like `./`) admits its whole subtree; any other entry admits exactly one file.
/// Entries are normalized the same way as edit paths, so `./src/a.rs` admits `src/a.rs`; an
/// entry that is not a valid relative path admits nothing.
fn allowed(parts: &[&str], allow: &[String]) -> bool {
    allow.iter().any(|entry| {
        let subtree = entry.ends_with('/');
        let entry_parts: Vec<&str> = entry
            .split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .collect();
        if entry.starts_with('/') || entry_parts.contains(&"..") {
            return false;
        }
        if subtree || entry_parts.is_empty() {
            parts.starts_with(&entry_parts)
        } else {
            parts == entry_parts.as_slice()
        }
    })
}

/// Checks `path` against the rules and resolves it under `root`, which must already be
/// canonical (absolute, symlinks resolved).
///
/// Walks the path one component at a time: a component that exists is resolved (a symlink
/// is followed and must land under the root); the first one that does not exist ends the
/// walk, since nothing below it can be a symlink yet.
pub(crate) fn check(root: &Path, path: &str, allow: Option<&[String]>) -> Result<Target, Refusal> {
    let parts = components(path)?;
    if let Some(allow) = allow
        && !allowed(&parts, allow)
    {
        return Err(Refusal::NotAllowed {
            path: path.to_owned(),
        });
    }
    let escape = || Refusal::SymlinkEscape {
        path: path.to_owned(),
    };
    let mut current = root.to_path_buf();
    let mut unlink = root.to_path_buf();
    let mut exists = true;
    for part in &parts {
        unlink = current.join(part);
        if !exists {
            current = unlink.clone();
            continue;
        }
        match std::fs::symlink_metadata(&unlink) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::canonicalize(&unlink).map_err(|error| Refusal::Invalid {
                    path: path.to_owned(),
                    why: format!("it goes through a symlink that does not resolve ({error})"),
                })?;
                if !target.starts_with(root) {
                    return Err(escape());
                }
                current = target;
            }
            Ok(_) => current = unlink.clone(),
            // `NotADirectory`: a file stands where a directory is needed; the applier reports
            // that when it reads the file, in words the model can act on.
            Err(error)
                if error.kind() == io::ErrorKind::NotFound
                    || error.kind() == io::ErrorKind::NotADirectory =>
            {
                exists = false;
                current = unlink.clone();
            }
            Err(error) => {
                return Err(Refusal::Invalid {
                    path: path.to_owned(),
                    why: format!("it cannot be inspected ({error})"),
                });
            }
        }
    }
    // A symlink inside the root may still lead into `.git` (`link -> .git`, then `link/config`).
    let inside = current.strip_prefix(root).map_err(|_| escape())?;
    if inside
        .components()
        .any(|part| part.as_os_str().to_str().is_some_and(is_git_dir))
    {
        return Err(Refusal::GitDir {
            path: path.to_owned(),
        });
    }
    // A symlink from an allowed path must not reach a file the allow-list leaves out.
    if let Some(allow) = allow {
        let resolved: Option<Vec<&str>> = inside
            .components()
            .map(|part| part.as_os_str().to_str())
            .collect();
        if !resolved.is_some_and(|resolved| resolved == parts || allowed(&resolved, allow)) {
            return Err(Refusal::NotAllowed {
                path: path.to_owned(),
            });
        }
    }
    if current == root {
        return Err(Refusal::Invalid {
            path: path.to_owned(),
            why: "it resolves to the root directory, not a file".to_owned(),
        });
    }
    // Every component is a plain name, so `unlink`'s parent holds only resolved directories.
    let relative = parts.join("/");
    Ok(Target {
        relative,
        resolved: current,
        unlink,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn refused(path: &str) -> Refusal {
        match components(path) {
            Ok(parts) => panic!("`{path}` was accepted as {parts:?}"),
            Err(refusal) => refusal,
        }
    }

    #[test]
    fn components_drop_dots_and_empty_parts() {
        assert_eq!(components("./src//a.rs/").ok(), Some(vec!["src", "a.rs"]));
    }

    #[test]
    fn empty_nul_absolute_parent_and_git_paths_are_refused() {
        assert!(matches!(refused(""), Refusal::Invalid { .. }));
        assert!(matches!(refused("a\0b"), Refusal::Invalid { .. }));
        assert!(matches!(refused("/etc/passwd"), Refusal::Absolute { .. }));
        assert!(matches!(refused("a/../../b"), Refusal::ParentDir { .. }));
        assert!(matches!(refused(".git/config"), Refusal::GitDir { .. }));
        assert!(matches!(refused("sub/.GIT/x"), Refusal::GitDir { .. }));
        assert!(matches!(refused("./"), Refusal::Invalid { .. }));
    }

    #[test]
    fn names_that_only_look_like_git_or_parent_are_fine() {
        assert_eq!(
            components(".gitignore/..a/.git.d").ok(),
            Some(vec![".gitignore", "..a", ".git.d"])
        );
    }

    #[test]
    fn allow_entries_match_files_exactly_and_subtrees_by_prefix() {
        let allow = vec![
            "./src/a.rs".to_owned(),
            "docs/".to_owned(),
            "../x".to_owned(),
        ];
        assert!(allowed(&["src", "a.rs"], &allow));
        assert!(!allowed(&["src", "b.rs"], &allow));
        assert!(allowed(&["docs", "deep", "x.md"], &allow));
        assert!(!allowed(&["docsx", "y.md"], &allow));
        assert!(!allowed(&["x"], &allow));
        assert!(allowed(&["anything"], &["./".to_owned()]));
    }

    #[test]
    fn refusals_name_their_path() {
        let refusal = refused("/abs/path");
        assert_eq!(refusal.path(), "/abs/path");
        assert!(refusal.to_string().contains("`/abs/path`"));
    }
}
