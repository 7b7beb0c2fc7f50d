//! Where a project's database lives: `BATON_HOME` if set, else the nearest `.baton`
//! directory above the working directory, else the git root's, else the working directory's.

use std::path::{Path, PathBuf};

const DIR: &str = ".baton";
const FILE: &str = "baton.db";

/// See [`crate::Store::locate`], which documents the rules.
pub(crate) fn locate(cwd: &Path, baton_home: Option<&Path>) -> PathBuf {
    if let Some(home) = baton_home {
        return home.join(FILE);
    }
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(DIR).is_dir())
        .or_else(|| cwd.ancestors().find(|dir| dir.join(".git").exists()))
        .unwrap_or(cwd);
    root.join(DIR).join(FILE)
}
