//! Putting a reply's changes on disk, one file at a time and each atomically: the new bytes
//! go to a temp file in the target's directory, are synced, get the old file's permissions
//! (and owner, when allowed), and are renamed over the target, so a reader sees the old file
//! or the new one, never half of one. Also the diffstat of a change.
//!
//! Renaming replaces the file's inode: hard links to the old file keep the old content.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use similar::{DiffOp, TextDiff};

/// How long the diffstat's line diff may take before it settles for a coarser count.
const DIFFSTAT_TIMEOUT: Duration = Duration::from_millis(500);

/// What an existing file had that its replacement keeps.
#[derive(Debug, Clone)]
pub(super) struct Keep {
    pub(super) permissions: Permissions,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

impl Keep {
    pub(super) fn of(metadata: &fs::Metadata) -> Self {
        Keep {
            permissions: metadata.permissions(),
            uid: metadata.uid(),
            gid: metadata.gid(),
        }
    }
}

/// Writes `bytes` to `path` atomically. `keep`: the metadata of the file being replaced;
/// `None` for a new file, whose parent directories are created and whose mode is what the
/// umask gives (as any editor would create it).
pub(super) fn write_atomic(path: &Path, bytes: &[u8], keep: Option<&Keep>) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path has no parent directory",
        )
    })?;
    fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".baton-edit-").suffix(".tmp");
    if keep.is_none() {
        // tempfile creates 0600 by default; asking for 0666 lets the umask decide, as
        // open(2) would for a new file.
        builder.permissions(Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    if let Some(keep) = keep {
        fs::set_permissions(temp.path(), keep.permissions.clone())?;
        let metadata = temp.as_file().metadata()?;
        if metadata.uid() != keep.uid || metadata.gid() != keep.gid {
            // Only root (or the owner, for the group) may do this; anyone else gets a file
            // they own, which is what any editor's save-by-rename does too.
            let _ = std::os::unix::fs::fchown(temp.as_file(), Some(keep.uid), Some(keep.gid));
        }
    }
    temp.persist(path).map_err(|error| error.error)?;
    sync_dir(dir);
    Ok(())
}

/// Removes the file (or the symlink) at `path`.
pub(super) fn remove(path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Makes a rename or removal in `dir` durable. Best effort: the change itself is done and
/// visible, and a directory that cannot be opened for sync is no reason to report failure.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Lines added and removed from `old` to `new` (empty text for a missing file).
pub(super) fn diffstat(old: &str, new: &str) -> (usize, usize) {
    let diff = TextDiff::configure()
        .timeout(DIFFSTAT_TIMEOUT)
        .diff_lines(old, new);
    let mut insertions = 0;
    let mut deletions = 0;
    for op in diff.ops() {
        match *op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete { old_len, .. } => deletions += old_len,
            DiffOp::Insert { new_len, .. } => insertions += new_len,
            DiffOp::Replace {
                old_len, new_len, ..
            } => {
                deletions += old_len;
                insertions += new_len;
            }
        }
    }
    (insertions, deletions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffstat_counts_changed_lines() {
        assert_eq!(diffstat("a\nb\nc\n", "a\nB\nc\nd\n"), (2, 1));
        assert_eq!(diffstat("", "a\nb\n"), (2, 0));
        assert_eq!(diffstat("a\n", ""), (0, 1));
    }

    #[test]
    fn atomic_writes_keep_the_mode_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o755)).unwrap();
        let keep = Keep::of(&fs::metadata(&path).unwrap());
        write_atomic(&path, b"new\n", Some(&keep)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
