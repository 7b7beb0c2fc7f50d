//! A recording `gh`: an executable shell script standing in for GitHub's CLI (no network in
//! tests) that records every call (its arguments and what it read on stdin) and answers the
//! few commands Baton's GitHub publishing uses the way `gh` does: `pr list --json`, `pr
//! create` (prints the new pull request's URL), `pr review`, `pr view --json
//! comments,reviews`, `pr edit`, `pr ready`, `issue view --json`. It can be told to fail a
//! command's first calls, or to post and then fail (an attempt that reached GitHub but whose
//! answer was lost), for tests of retries.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the fake `gh` does.
#[derive(Debug, Clone, Default)]
pub struct FakeGh {
    /// `(command, n)`: the first `n` calls of `command` (`"pr create"`, `"pr review"`, ...)
    /// fail with a 502 before doing anything.
    pub fail: Vec<(String, u32)>,
    /// `(command, n)`: the first `n` calls of `command` do their work, then exit 1.
    pub post_then_fail: Vec<(String, u32)>,
    /// The issue `issue view` shows: `(number, title, body)`.
    pub issue: Option<(u64, String, String)>,
}

/// One call of the fake `gh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhCall {
    pub args: Vec<String>,
    pub stdin: String,
}

impl GhCall {
    /// `pr create`, `pr review`, ...: its first two arguments.
    pub fn command(&self) -> String {
        self.args
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where the fake `gh` keeps its calls and state.
#[derive(Debug, Clone)]
pub struct FakeGhRecord {
    pub dir: PathBuf,
}

impl FakeGhRecord {
    /// Every call, in order.
    pub fn calls(&self) -> Vec<GhCall> {
        let mut calls = Vec::new();
        for n in 1.. {
            let Ok(text) = std::fs::read_to_string(self.dir.join(format!("call-{n}"))) else {
                break;
            };
            let (args, stdin) = text.split_once("--stdin--\n").unwrap_or((&text, ""));
            calls.push(GhCall {
                args: args
                    .lines()
                    .filter_map(|line| line.strip_prefix("arg:"))
                    .map(str::to_string)
                    .collect(),
                stdin: stdin.to_string(),
            });
        }
        calls
    }

    /// The calls of `command` (`"pr review"`).
    pub fn calls_of(&self, command: &str) -> Vec<GhCall> {
        self.calls()
            .into_iter()
            .filter(|call| call.command() == command)
            .collect()
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Writes the fake `gh` into `dir` (executable, named `gh`) and returns its path and record.
pub fn fake_gh(dir: &Path, gh: &FakeGh) -> (PathBuf, FakeGhRecord) {
    let state = dir.join("gh-state");
    std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("mkdir {}: {e}", state.display()));
    let budget = |prefix: &str, list: &[(String, u32)]| {
        for (command, n) in list {
            let file = state.join(format!("{prefix}-{}", command.replace(' ', "-")));
            std::fs::write(&file, n.to_string())
                .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        }
    };
    budget("fail", &gh.fail);
    budget("postfail", &gh.post_then_fail);
    if let Some((number, title, body)) = &gh.issue {
        let issue = serde_json::json!({
            "number": number,
            "title": title,
            "body": body,
            "url": format!("https://github.com/owner/repo/issues/{number}"),
        });
        std::fs::write(state.join("issue.json"), issue.to_string())
            .unwrap_or_else(|e| panic!("write issue.json: {e}"));
    }
    let mut script = String::from("#!/bin/sh\n");
    let _ = writeln!(script, "S={}", quote(&state.display().to_string()));
    script.push_str(
        r#"n=$(( $(ls "$S" | grep -c '^call-') + 1 ))
cmd="$1-$2"
{ for a in "$@"; do printf 'arg:%s\n' "$a"; done; echo '--stdin--'; } > "$S/call-$n"
case " $* " in *' --body-file - '*) cat >> "$S/call-$n" ;; esac
take() { f="$S/$1-$cmd"; [ -f "$f" ] || return 1; left=$(cat "$f"); [ "$left" -gt 0 ] || return 1; echo $((left - 1)) > "$f"; return 0; }
if take fail; then echo 'HTTP 502: Bad Gateway (https://api.github.com/graphql)' >&2; exit 1; fi
url='https://github.com/owner/repo/pull/1'
case "$cmd" in
  pr-list) if [ -f "$S/pr" ]; then printf '[{"number":1,"url":"%s"}]\n' "$url"; else echo '[]'; fi ;;
  pr-create) touch "$S/pr"; echo "$url" ;;
  pr-review) sed -n '/^--stdin--$/,$p' "$S/call-$n" | sed 1d >> "$S/posted"; printf '\n<<end>>\n' >> "$S/posted" ;;
  pr-view)
    printf '{"comments":[],"reviews":[{"body":"'
    if [ -f "$S/posted" ]; then sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/</\\u003c/g' -e 's/>/\\u003e/g' "$S/posted" | awk '{printf "%s\\n", $0}'; fi
    printf '"}]}\n' ;;
  issue-view) cat "$S/issue.json" ;;
esac
if take postfail; then echo 'error connecting to api.github.com' >&2; exit 1; fi
exit 0
"#,
    );
    let path = dir.join("gh");
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    }
    (path, FakeGhRecord { dir: state })
}
