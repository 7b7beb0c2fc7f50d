//! The git a run needs, through `baton_exec::run` (the only room that spawns processes): the
//! repository and its base commit, the run's worktree and branch, commits of exactly the
//! files a dispatch owns with trailers naming run and subtask, and the diff a reviewer reads.
//! Nothing here touches the user's working tree, index or uncommitted changes: every command
//! that writes runs inside the worktree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_exec::run::{RunRequest, run};

use crate::PipelineError;

/// A git command's deadline: local operations on a small repository take milliseconds; a
/// minute covers a large one on a slow disk.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The identity commits are made with when the repository has none configured (a fresh
/// CI machine): the run's commits must not fail for want of a name.
const FALLBACK_NAME: &str = "Baton";
const FALLBACK_EMAIL: &str = "baton@localhost";

/// Runs `git ARGS` in `cwd`; stdout on success, else an error naming the command and what
/// git said.
pub async fn git(cwd: &Path, args: &[&str]) -> Result<String, PipelineError> {
    let request = RunRequest::new("git", cwd)
        .args(args.iter().copied())
        .set_env("GIT_TERMINAL_PROMPT", "0")
        .timeout(GIT_TIMEOUT);
    let output = run(&request).await.map_err(|error| PipelineError::Git {
        command: format!("git {}", args.join(" ")),
        message: error.to_string(),
    })?;
    if !output.success() {
        let stderr = output.stderr.text();
        let stdout = output.stdout.text();
        let said = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        return Err(PipelineError::Git {
            command: format!("git {}", args.join(" ")),
            message: said.trim().lines().last().unwrap_or("failed").to_string(),
        });
    }
    Ok(output.stdout.text())
}

/// The repository's top directory, or [`PipelineError::NotARepository`].
pub async fn top_level(cwd: &Path) -> Result<PathBuf, PipelineError> {
    match git(cwd, &["rev-parse", "--show-toplevel"]).await {
        Ok(top) => Ok(PathBuf::from(top.trim())),
        Err(_) => Err(PipelineError::NotARepository {
            path: cwd.to_path_buf(),
        }),
    }
}

/// The branch checked out in `repo`; `None` on a detached HEAD.
pub async fn current_branch(repo: &Path) -> Option<String> {
    git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .await
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

/// The commit HEAD points at, or [`PipelineError::NoCommits`].
pub async fn head(repo: &Path) -> Result<String, PipelineError> {
    match git(repo, &["rev-parse", "--verify", "HEAD^{commit}"]).await {
        Ok(sha) => Ok(sha.trim().to_string()),
        Err(_) => Err(PipelineError::NoCommits {
            repo: repo.to_path_buf(),
        }),
    }
}

/// Adds the worktree `path` on a new branch `branch` starting at `base`.
pub async fn add_worktree(
    repo: &Path,
    path: &Path,
    branch: &str,
    base: &str,
) -> Result<(), PipelineError> {
    let path = path.to_string_lossy();
    git(
        repo,
        &["worktree", "add", "--quiet", "-b", branch, &path, base],
    )
    .await?;
    Ok(())
}

/// `-c user.name=… -c user.email=…` when the repository has no identity of its own; asked
/// once per run (`Ctx::identity`), not per commit.
pub async fn identity(worktree: &Path) -> Vec<String> {
    let configured = git(worktree, &["config", "user.email"])
        .await
        .is_ok_and(|email| !email.trim().is_empty());
    if configured {
        Vec::new()
    } else {
        vec![
            "-c".into(),
            format!("user.name={FALLBACK_NAME}"),
            "-c".into(),
            format!("user.email={FALLBACK_EMAIL}"),
        ]
    }
}

/// Commits exactly `files` (added, changed or deleted) in the worktree with `message` and
/// `trailers`; other files, which parallel subtasks may be writing, are left alone. `None`
/// when none of them changed.
pub async fn commit_files(
    worktree: &Path,
    identity: &[String],
    files: &[String],
    message: &str,
    trailers: &[(String, String)],
) -> Result<Option<String>, PipelineError> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut add = vec!["add", "-A", "--"];
    add.extend(files.iter().map(String::as_str));
    git(worktree, &add).await?;
    let mut staged = vec!["diff", "--cached", "--name-only", "--"];
    staged.extend(files.iter().map(String::as_str));
    if git(worktree, &staged).await?.trim().is_empty() {
        return Ok(None);
    }
    let mut body = message.to_string();
    if !trailers.is_empty() {
        body.push_str("\n\n");
        for (key, value) in trailers {
            body.push_str(&format!("{key}: {value}\n"));
        }
    }
    let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
    // A commit would start `git maintenance run --auto` (gc, repacks) in the background of
    // every dispatch; the user's repository keeps its own schedule for that.
    args.extend(["-c", "maintenance.auto=false", "-c", "gc.auto=0"]);
    args.extend(["commit", "--quiet", "--no-verify", "-m", &body, "--"]);
    args.extend(files.iter().map(String::as_str));
    git(worktree, &args).await?;
    Ok(Some(head(worktree).await?))
}

/// An empty commit on the worktree's branch (the run's "begin" commit, which a pull request
/// needs before any code: GitHub opens none for a branch with no commit of its own); its sha.
pub async fn commit_empty(
    worktree: &Path,
    identity: &[String],
    message: &str,
    trailers: &[(String, String)],
) -> Result<String, PipelineError> {
    let mut body = message.to_string();
    body.push_str("\n\n");
    for (key, value) in trailers {
        body.push_str(&format!("{key}: {value}\n"));
    }
    let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
    args.extend(["-c", "maintenance.auto=false", "-c", "gc.auto=0"]);
    args.extend([
        "commit",
        "--quiet",
        "--no-verify",
        "--allow-empty",
        "-m",
        &body,
    ]);
    git(worktree, &args).await?;
    head(worktree).await
}

/// The diff of the worktree's HEAD against `base`, at most `max_bytes` (cut at a line).
pub async fn diff(worktree: &Path, base: &str, max_bytes: usize) -> Result<String, PipelineError> {
    let range = format!("{base}..HEAD");
    let text = git(
        worktree,
        &["diff", "--no-color", "--stat", "--patch", &range],
    )
    .await?;
    Ok(cut(&text, max_bytes))
}

/// `text` cut to at most `max_bytes` at a line end, with a line saying how much was left out.
pub fn cut(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    format!(
        "{}[... {} more bytes left out]\n",
        &text[..end],
        text.len() - end
    )
}

/// The files changed between `base` and the worktree's HEAD, with their line counts.
pub async fn changed_files(
    worktree: &Path,
    base: &str,
) -> Result<Vec<(String, u64, u64)>, PipelineError> {
    let range = format!("{base}..HEAD");
    let text = git(worktree, &["diff", "--numstat", &range]).await?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let added = parts.next()?.parse().unwrap_or(0);
            let removed = parts.next()?.parse().unwrap_or(0);
            Some((parts.next()?.to_string(), added, removed))
        })
        .collect())
}

/// The commits on the worktree's branch since `base`, oldest first: (sha, subject).
pub async fn commits_since(
    worktree: &Path,
    base: &str,
) -> Result<Vec<(String, String)>, PipelineError> {
    let range = format!("{base}..HEAD");
    let text = git(worktree, &["log", "--reverse", "--format=%H %s", &range]).await?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let (sha, subject) = line.split_once(' ')?;
            Some((sha.to_string(), subject.to_string()))
        })
        .collect())
}

/// The files of `commit` (for the architect's view of the repository and the plan's checks):
/// what the run's worktree starts from, not the user's index.
pub async fn tracked_files(repo: &Path, commit: &str) -> Result<Vec<String>, PipelineError> {
    Ok(git(repo, &["ls-tree", "-r", "--name-only", commit])
        .await?
        .lines()
        .map(str::to_string)
        .collect())
}
