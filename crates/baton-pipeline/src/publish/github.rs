//! GitHub, the way the workflow keeps its trail there: the run's branch pushed (after the
//! architecture's empty "begin" commit, and after every dispatch commit), a draft pull
//! request opened with the design before any code, a review comment per rejected round, and
//! on approval the body replaced by the final `PR.md` and the pull request marked ready.
//! Everything goes through `git push` and the `gh` CLI (its own login: `gh auth login` or
//! `GH_TOKEN`), run in the repository with a deadline. Before posting again what an earlier
//! attempt may have posted, it looks: an open pull request of the branch is taken over, and a
//! comment is found by the marker its body ends with.

use std::path::Path;
use std::time::Duration;

use baton_core::publish::{GithubTarget, Target};
use baton_exec::run::{RunRequest, Stdin, run};

use super::{Action, Deliver, Delivered};

/// Variables `gh` and `git push` authenticate with, passed through to them.
pub(crate) const AUTH_ENV: &[&str] = &[
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GH_HOST",
    "GH_CONFIG_DIR",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
];

pub(crate) async fn deliver(
    target: &GithubTarget,
    cx: &Deliver<'_>,
    action: &Action,
) -> Result<Delivered, String> {
    match action {
        Action::Push { branch, .. } => push(target, cx, branch).await,
        Action::PrOpen {
            branch,
            title,
            body,
        } => open(target, cx, branch, title, body).await,
        Action::PrComment { body } => comment(target, cx, body).await,
        Action::PrReady { body } => ready(target, cx, body).await,
        other => Err(format!("GitHub does not take `{}`", other.name())),
    }
}

/// Where commands run: the repository, with a deadline.
#[derive(Clone, Copy)]
struct At<'a> {
    repo: &'a Path,
    timeout: Duration,
}

impl<'a> At<'a> {
    fn of(cx: &'a Deliver<'_>) -> At<'a> {
        At {
            repo: Path::new(&cx.run.repo),
            timeout: cx.timeout,
        }
    }
}

/// Runs `program ARGS` in the repository; stdout, or what it said on failure.
async fn command(
    at: At<'_>,
    program: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, String> {
    let mut request = RunRequest::new(program, at.repo)
        .args(args.iter().cloned())
        .set_env("GIT_TERMINAL_PROMPT", "0")
        .set_env("GH_PROMPT_DISABLED", "1")
        .set_env("GH_NO_UPDATE_NOTIFIER", "1")
        .set_env("NO_COLOR", "1")
        .timeout(at.timeout);
    for name in AUTH_ENV {
        request = request.pass_env(*name);
    }
    if let Some(text) = stdin {
        request = request.stdin(Stdin::Bytes(text.as_bytes().to_vec()));
    }
    let shown = format!("{program} {}", args.first().map_or("", String::as_str));
    let output = run(&request)
        .await
        .map_err(|error| format!("{shown}: {error}"))?;
    if output.success() {
        return Ok(output.stdout.text());
    }
    let stderr = output.stderr.text();
    let said = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    Err(match output.termination {
        baton_exec::run::Termination::TimedOut => {
            format!("`{shown}` did not finish within {} s", at.timeout.as_secs())
        }
        _ if said.is_empty() => format!("`{shown}` failed ({})", output.exit),
        _ => format!("`{shown}` failed: {said}"),
    })
}

/// `gh ARGS [--repo OWNER/NAME]`.
async fn gh(
    target: &GithubTarget,
    at: At<'_>,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, String> {
    let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_string()).collect();
    if let Some(repo) = &target.repo {
        args.push("--repo".into());
        args.push(repo.clone());
    }
    command(at, &target.gh, &args, stdin).await
}

/// Issue `number`, read with `gh issue view`.
pub(crate) async fn issue(
    repo: &Path,
    target: &GithubTarget,
    number: u64,
    timeout: Duration,
) -> Result<super::tracker::Issue, String> {
    let at = At { repo, timeout };
    let number_text = number.to_string();
    let shown = gh(
        target,
        at,
        &[
            "issue",
            "view",
            &number_text,
            "--json",
            "number,title,body,url",
        ],
        None,
    )
    .await?;
    let issue: serde_json::Value = serde_json::from_str(shown.trim())
        .map_err(|error| format!("`gh issue view` printed no JSON object: {error}"))?;
    let text = |key: &str| {
        issue
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(super::tracker::Issue {
        id: format!("#{number}"),
        title: text("title"),
        body: text("body"),
        url: text("url"),
    })
}

async fn push(target: &GithubTarget, cx: &Deliver<'_>, branch: &str) -> Result<Delivered, String> {
    // The branch as it is now: a later commit carries the one this push was queued for.
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    let args = ["push", "--quiet", target.remote.as_str(), refspec.as_str()].map(str::to_string);
    command(At::of(cx), "git", &args, None).await?;
    let tip = crate::git::git(
        At::of(cx).repo,
        &["rev-parse", &format!("refs/heads/{branch}")],
    )
    .await
    .map(|tip| tip.trim().to_string())
    .unwrap_or_default();
    Ok(Delivered {
        result: Some(serde_json::json!({ "remote": target.remote, "commit": tip })),
        link: None,
    })
}

/// The number at the end of a pull request's URL (`…/pull/12`).
fn number_of(url: &str) -> Option<u64> {
    url.trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()?
        .parse()
        .ok()
}

fn opened(number: u64, url: &str) -> Delivered {
    Delivered {
        result: Some(serde_json::json!({ "number": number, "url": url })),
        link: Some(url.to_string()),
    }
}

async fn open(
    target: &GithubTarget,
    cx: &Deliver<'_>,
    branch: &str,
    title: &str,
    body: &str,
) -> Result<Delivered, String> {
    // A pull request of the branch already there (an earlier attempt's, or one opened by
    // hand) is the run's: a second would split the trail.
    let listed = gh(
        target,
        At::of(cx),
        &[
            "pr",
            "list",
            "--head",
            branch,
            "--state",
            "all",
            "--json",
            "number,url",
            "--limit",
            "1",
        ],
        None,
    )
    .await?;
    let existing: Vec<serde_json::Value> = serde_json::from_str(listed.trim())
        .map_err(|error| format!("`gh pr list` printed no JSON list: {error}"))?;
    if let Some(pr) = existing.first()
        && let (Some(number), Some(url)) = (
            pr.get("number").and_then(serde_json::Value::as_u64),
            pr.get("url").and_then(serde_json::Value::as_str),
        )
    {
        return Ok(opened(number, url));
    }
    let body = format!("{body}\n\n{}\n", cx.marker());
    let created = gh(
        target,
        At::of(cx),
        &[
            "pr",
            "create",
            "--draft",
            "--head",
            branch,
            "--base",
            &target.base,
            "--title",
            title,
            "--body-file",
            "-",
        ],
        Some(&body),
    )
    .await?;
    let url = created
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with("http"))
        .ok_or_else(|| format!("`gh pr create` printed no URL: {}", created.trim()))?;
    let number = number_of(url).ok_or_else(|| format!("`{url}` names no pull request number"))?;
    Ok(opened(number, url))
}

/// The run's pull request, from the result of its `pr.open`; `None` when the run never
/// queued one (it ended before its architecture).
fn pull_request(cx: &Deliver<'_>) -> Result<Option<(u64, String)>, String> {
    let queued = cx
        .rows
        .iter()
        .any(|row| row.target == Target::Github && row.action == "pr.open");
    let Some(row) = cx.sent(Target::Github, "pr.open") else {
        return if queued {
            Err("the pull request is not open yet".into())
        } else {
            Ok(None)
        };
    };
    let result = row.result.as_ref();
    let number = result
        .and_then(|result| result.get("number"))
        .and_then(serde_json::Value::as_u64)
        .ok_or("the pull request's number was not kept")?;
    let url = result
        .and_then(|result| result.get("url"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Some((number, url)))
}

/// Whether a comment or review of `gh pr view --json comments,reviews` holds `marker` (the
/// JSON is decoded: `gh` escapes `<` and `>` in it).
fn posted(shown: &str, marker: &str) -> Result<bool, String> {
    let view: serde_json::Value = serde_json::from_str(shown.trim())
        .map_err(|error| format!("`gh pr view` printed no JSON object: {error}"))?;
    Ok(["comments", "reviews"].iter().any(|list| {
        view.get(*list)
            .and_then(serde_json::Value::as_array)
            .is_some_and(|items| {
                items.iter().any(|item| {
                    item.get("body")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|body| body.contains(marker))
                })
            })
    }))
}

fn skipped() -> Delivered {
    Delivered {
        result: Some(serde_json::json!({ "skipped": "the run opened no pull request" })),
        link: None,
    }
}

async fn comment(target: &GithubTarget, cx: &Deliver<'_>, body: &str) -> Result<Delivered, String> {
    let Some((number, url)) = pull_request(cx)? else {
        return Ok(skipped());
    };
    let number = number.to_string();
    let marker = cx.marker();
    if cx.delivery.earlier_attempts > 0 {
        let seen = gh(
            target,
            At::of(cx),
            &["pr", "view", &number, "--json", "comments,reviews"],
            None,
        )
        .await?;
        if posted(&seen, &marker)? {
            return Ok(Delivered {
                result: Some(serde_json::json!({ "number": number, "found": true })),
                link: Some(url),
            });
        }
    }
    let body = format!("{body}\n\n{marker}\n");
    gh(
        target,
        At::of(cx),
        &["pr", "review", &number, "--comment", "--body-file", "-"],
        Some(&body),
    )
    .await?;
    Ok(Delivered {
        result: Some(serde_json::json!({ "number": number })),
        link: Some(url),
    })
}

async fn ready(target: &GithubTarget, cx: &Deliver<'_>, body: &str) -> Result<Delivered, String> {
    let Some((number, url)) = pull_request(cx)? else {
        return Ok(skipped());
    };
    let number = number.to_string();
    // Both steps are the same done twice: a retry after either needs no looking first.
    gh(
        target,
        At::of(cx),
        &["pr", "edit", &number, "--body-file", "-"],
        Some(body),
    )
    .await?;
    gh(target, At::of(cx), &["pr", "ready", &number], None).await?;
    Ok(Delivered {
        result: Some(serde_json::json!({ "number": number, "url": url })),
        link: Some(url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_body_is_found_by_its_marker_through_gh_json_escapes() {
        let shown =
            r#"{"comments":[],"reviews":[{"body":"x\n\u003c!-- baton:R:review:1 --\u003e\n"}]}"#;
        assert!(posted(shown, "<!-- baton:R:review:1 -->").unwrap());
        assert!(!posted(shown, "<!-- baton:R:review:2 -->").unwrap());
    }

    #[test]
    fn a_pull_requests_number_is_the_end_of_its_url() {
        assert_eq!(number_of("https://github.com/o/r/pull/12\n"), Some(12));
        assert_eq!(number_of("https://github.com/o/r/pull/"), None);
    }
}
