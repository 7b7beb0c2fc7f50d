//! `Store::locate` in each of its four cases, on real directory trees in temp dirs.

#![allow(
    clippy::unwrap_used,
    reason = "clippy allows unwrap in #[test] fns only; the helpers here panic on failure too"
)]

use std::path::PathBuf;

use baton_store::Store;
use pretty_assertions::assert_eq;
use tempfile::TempDir;

fn mkdir(path: PathBuf) -> PathBuf {
    std::fs::create_dir_all(&path).unwrap();
    path
}

#[test]
fn baton_home_wins_over_everything() {
    let dir = TempDir::new().unwrap();
    let cwd = mkdir(dir.path().join("proj/src"));
    mkdir(dir.path().join("proj/.baton"));
    let home = dir.path().join("home");
    assert_eq!(Store::locate(&cwd, Some(&home)), home.join("baton.db"));
}

#[test]
fn the_nearest_baton_directory_above_is_used_even_past_a_git_entry() {
    let dir = TempDir::new().unwrap();
    mkdir(dir.path().join("proj/.baton"));
    mkdir(dir.path().join("proj/.git"));
    // A baton worktree: its `.git` is a file, and it sits under the project's `.baton`.
    let worktree = mkdir(dir.path().join("proj/.baton/worktrees/run-1"));
    std::fs::write(
        worktree.join(".git"),
        "gitdir: ../../../.git/worktrees/run-1\n",
    )
    .unwrap();
    let cwd = mkdir(worktree.join("src"));
    let want = dir.path().join("proj/.baton/baton.db");
    assert_eq!(Store::locate(&cwd, None), want);
    assert_eq!(Store::locate(&dir.path().join("proj"), None), want);
}

#[test]
fn without_a_baton_directory_the_git_root_is_used() {
    let dir = TempDir::new().unwrap();
    mkdir(dir.path().join("repo/.git"));
    let cwd = mkdir(dir.path().join("repo/crates/x"));
    assert_eq!(
        Store::locate(&cwd, None),
        dir.path().join("repo/.baton/baton.db")
    );
}

#[test]
fn with_neither_the_working_directory_is_used() {
    let dir = TempDir::new().unwrap();
    let cwd = mkdir(dir.path().join("loose"));
    assert_eq!(Store::locate(&cwd, None), cwd.join(".baton/baton.db"));
}
