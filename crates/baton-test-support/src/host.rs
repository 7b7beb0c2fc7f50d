//! What tests ask of the machine: git commands as a test user, and the processes a test's
//! directory still has running (to prove nothing was left behind).

#![allow(
    clippy::disallowed_methods,
    reason = "test set-up runs git directly: what it checks must not depend on baton-exec"
)]

use std::path::Path;

/// `git ARGS` in `dir` as a test user (`T <t@localhost>`), which must succeed; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let done = std::process::Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@localhost"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        done.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    String::from_utf8_lossy(&done.stdout).into_owned()
}

/// Live processes (zombies awaiting their reaper left out) working in `root` or naming it in
/// their arguments: `(pid, command line)`, this process excepted.
pub fn processes_under(root: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
        {
            continue;
        }
        let cwd = std::fs::read_link(entry.path().join("cwd"))
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
            .unwrap_or_default();
        if cwd.starts_with(root) || cmdline.contains(root) {
            found.push((pid, cmdline));
        }
    }
    found
}
