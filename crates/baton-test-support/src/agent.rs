//! A fake agent CLI: an executable shell script that behaves the way a test asks (writes
//! files, prints a Claude Code style JSON result with usage, hangs, fails) and records the
//! arguments, the environment and the prompt it was started with, for tests of agent CLIs as
//! workers. A real process under a real supervisor; only the model behind it is missing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the fake agent does when started.
#[derive(Debug, Clone, Default)]
pub struct FakeAgent {
    /// Files written relative to its working directory, `(path, content)`.
    pub writes: Vec<(String, String)>,
    /// Written instead of `writes` from its second start on (a fix after a failed check).
    pub then_writes: Vec<(String, String)>,
    /// Its final message.
    pub message: String,
    /// Its final message per start: the first start's, the second's, ...; the last one
    /// stands for every later start. Empty: `message` every time.
    pub messages: Vec<String>,
    /// Printed as `claude -p --output-format json` prints its result (with this usage:
    /// input and output tokens) when the arguments ask for JSON output.
    pub usage: Option<(u64, u64)>,
    /// After its writes, print nothing more and never exit (an idle deadline's case).
    pub hang: bool,
    /// Exit with this code.
    pub exit_code: i32,
}

/// Where a fake agent records how it was started.
#[derive(Debug, Clone)]
pub struct FakeAgentRecord {
    /// One line per start: its arguments, then `env:NAME=VALUE` lines of the variables a
    /// CLI reads (`ANTHROPIC_*`, `OPENAI_*`, `AIDER_*`, `CLAUDE_*`, `CODEX_*`, `GOOSE_*`,
    /// `BATON_*` but the prompt), then `--`.
    pub calls: PathBuf,
    /// The last prompt it was given (`BATON_PROMPT`); start N's is also kept in
    /// `PROMPT.N` ([`FakeAgentRecord::prompts`]).
    pub prompt: PathBuf,
}

impl FakeAgentRecord {
    /// Every start's recorded lines.
    pub fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .split("--\n")
            .filter(|call| !call.is_empty())
            .map(|call| call.lines().map(str::to_string).collect())
            .collect()
    }

    pub fn prompt(&self) -> String {
        std::fs::read_to_string(&self.prompt).unwrap_or_default()
    }

    /// Every start's prompt, in order.
    pub fn prompts(&self) -> Vec<String> {
        (1..)
            .map(|n| std::fs::read_to_string(format!("{}.{n}", self.prompt.display())))
            .map_while(Result::ok)
            .collect()
    }
}

/// `'text'` for sh.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Writes the fake agent `name` into `dir` (executable) and returns its path and record.
pub fn fake_agent(dir: &Path, name: &str, agent: &FakeAgent) -> (PathBuf, FakeAgentRecord) {
    let path = dir.join(name);
    let record = FakeAgentRecord {
        calls: dir.join(format!("{name}.calls")),
        prompt: dir.join(format!("{name}.prompt")),
    };
    let mut script = String::from("#!/bin/sh\n");
    let _ = writeln!(
        script,
        "{{ for a in \"$@\"; do printf 'arg:%s\\n' \"$a\"; done; \
         env | grep -E '^(ANTHROPIC|OPENAI|AIDER|CLAUDE|CODEX|GOOSE|BATON)_' | grep -v '^BATON_PROMPT=' | sed 's/^/env:/'; \
         echo --; }} >> {}",
        quote(&record.calls.display().to_string())
    );
    // The calls file has one `--` line per start, this one's included.
    let _ = writeln!(
        script,
        "start=$(grep -c '^--$' {})",
        quote(&record.calls.display().to_string())
    );
    let _ = writeln!(
        script,
        "printf '%s' \"$BATON_PROMPT\" > {prompt}; cp {prompt} {prompt}.\"$start\"",
        prompt = quote(&record.prompt.display().to_string())
    );
    script.push_str("echo 'fake agent: working'\n");
    let write = |script: &mut String, writes: &[(String, String)]| {
        for (file, content) in writes {
            if let Some(parent) = Path::new(file)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                let _ = writeln!(script, "mkdir -p {}", quote(&parent.display().to_string()));
            }
            let _ = writeln!(script, "printf '%s' {} > {}", quote(content), quote(file));
        }
    };
    if agent.then_writes.is_empty() {
        write(&mut script, &agent.writes);
    } else {
        script.push_str("if [ \"$start\" -gt 1 ]; then\n");
        write(&mut script, &agent.then_writes);
        script.push_str("else\n");
        write(&mut script, &agent.writes);
        script.push_str("fi\n");
    }
    if agent.hang {
        script.push_str("exec sleep 3600\n");
    }
    let usage = agent.usage.unwrap_or((0, 0));
    let messages = if agent.messages.is_empty() {
        std::slice::from_ref(&agent.message)
    } else {
        &agent.messages[..]
    };
    script.push_str("case \"$start\" in\n");
    for (index, message) in messages.iter().enumerate() {
        let result = serde_json::json!({
            "type": "result",
            "subtype": "success",
            "is_error": false,
            "result": message,
            "usage": {"input_tokens": usage.0, "output_tokens": usage.1},
            "total_cost_usd": 0.0,
            "modelUsage": {"fake-model": {}},
        });
        let pattern = if index + 1 == messages.len() {
            "*".to_string()
        } else {
            (index + 1).to_string()
        };
        let _ = writeln!(
            script,
            "{pattern}) case \" $* \" in *' --output-format json '*) printf '%s\\n' {} ;; *) printf '%s\\n' {} ;; esac ;;",
            quote(&result.to_string()),
            quote(message)
        );
    }
    script.push_str("esac\n");
    let _ = writeln!(script, "exit {}", agent.exit_code);
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    }
    (path, record)
}
