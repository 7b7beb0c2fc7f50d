//! A sealed `baton` command: temp HOME, XDG config dir and working directory, every
//! variable Baton reads stripped, and helpers to run it and read what it wrote; and the
//! snapshot of a run ([`snapshot!`]): its command line, exit code, stdout and stderr, with
//! what varies between runs masked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temp project directory and the environment `baton` runs in.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) env: Vec<(String, String)>,
    /// Values a snapshot shows as a label, replaced before the shared filters run.
    redactions: Vec<(String, String)>,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Sandbox {
            dir,
            env: Vec::new(),
            redactions: Vec::new(),
        }
    }

    /// A sandbox whose default backend is a local port nothing listens on, so that no test
    /// reaches a server by accident (a developer may have one at the default port).
    pub(crate) fn offline() -> Sandbox {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Sandbox::new().coder_url(&format!("http://127.0.0.1:{port}/v1"))
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Points the default profile's backend at a scripted or real server (`dispatch.sh`'s
    /// own variable, so the drop-in path is what gets tested).
    pub(crate) fn coder_url(mut self, openai_base: &str) -> Sandbox {
        self.env.push((
            "CODER_API_URL".into(),
            format!("{openai_base}/chat/completions"),
        ));
        self
    }

    pub(crate) fn var(mut self, name: &str, value: &str) -> Sandbox {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Shows `value` as `[LABEL]` in this sandbox's snapshots: for what only the test knows
    /// varies, such as a port written into a config file and echoed as a bare number.
    pub(crate) fn redact(mut self, value: impl Into<String>, label: &str) -> Sandbox {
        self.redactions.push((value.into(), format!("[{label}]")));
        self
    }

    pub(crate) fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("xdg"))
            .env("LC_ALL", "C")
            .env("COLUMNS", "200")
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs baton with stdin closed.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap()).with_args(args)
    }

    /// Runs baton with `input` piped to stdin.
    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap()).with_args(args)
    }

    /// The sandbox's store, opened with baton's own code.
    pub(crate) fn store(&self) -> baton_store::Store {
        baton_store::Store::open(&self.path().join(".baton/baton.db")).unwrap()
    }

    /// The ledger rows.
    pub(crate) fn calls(&self) -> Vec<baton_core::CallRecord> {
        self.store().calls(None).unwrap()
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    /// The arguments baton ran with (empty when the test built the command itself).
    pub(crate) args: Vec<String>,
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            args: Vec::new(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    fn with_args(mut self, args: &[&str]) -> Run {
        self.args = args.iter().map(|arg| (*arg).to_string()).collect();
        self
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {self:?}"))
    }

    #[track_caller]
    pub(crate) fn assert_ok(&self) -> &Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Sandbox {
    /// Spawns a worker and returns its id.
    pub(crate) fn spawn(&self, args: &[&str]) -> String {
        let mut full = vec!["spawn"];
        full.extend_from_slice(args);
        let run = self.run(&full);
        run.assert_ok();
        run.stdout.trim().to_string()
    }

    /// PIDs of live processes working in, or started with arguments naming, this sandbox
    /// (workers, their children, supervisors). Zombies awaiting their reaper are not counted.
    pub(crate) fn processes(&self) -> Vec<u32> {
        baton_test_support::host::processes_under(&self.path().to_string_lossy())
            .into_iter()
            .map(|(pid, _)| pid)
            .collect()
    }

    /// Asserts that nothing started for this sandbox is still running, waiting a moment for
    /// supervisors that are writing their last record.
    #[track_caller]
    pub(crate) fn assert_nothing_left(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left = self.processes();
            if left.is_empty() {
                return;
            }
            if std::time::Instant::now() > deadline {
                let described: Vec<String> = left
                    .iter()
                    .map(|pid| {
                        format!(
                            "{pid}: {}",
                            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                                .unwrap_or_default()
                                .replace('\0', " ")
                        )
                    })
                    .collect();
                panic!("processes left behind: {described:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Asserts a run against its snapshot file in `snapshots/` beside the test module: the
/// command line, the exit code, stdout and stderr, as [`Sandbox::render`] shows them. Named
/// after the test, or `$name` when a test takes several.
///
/// A new or changed snapshot fails the test. To accept the output after a change (insta's
/// own `cargo insta` is not needed):
/// `INSTA_UPDATE=always cargo nextest run -p baton -E 'test(/snapshot/)'`, then read the diff
/// of `crates/baton/tests/it/snapshots/` line by line before committing it: a snapshot is an
/// assertion. With `CI=true` insta writes nothing and fails on any difference.
macro_rules! snapshot {
    ($sandbox:expr, $run:expr $(,)?) => {{
        let rendered = $sandbox.render(&$run);
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(rendered);
        });
    }};
    ($sandbox:expr, $run:expr, $name:expr $(,)?) => {{
        let rendered = $sandbox.render(&$run);
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!($name, rendered);
        });
    }};
}
pub(crate) use snapshot;

/// Asserts what every `--json` run of `$cases` (`(name, Run)` pairs) must do, exit 0 with
/// nothing on stderr, then each one's snapshot under its name.
macro_rules! json_shapes {
    ($sandbox:expr, $cases:expr $(,)?) => {{
        let cases: &[(&str, $crate::support::Run)] = &$cases;
        for (name, run) in cases {
            assert!(
                run.args.iter().any(|arg| arg == "--json"),
                "{name}: {run:?}"
            );
            assert_eq!(run.code, 0, "{name}: {run:?}");
            assert_eq!(run.stderr, "", "{name}: --json printed on stderr");
        }
        for (name, run) in cases {
            $crate::support::snapshot!($sandbox, run, *name);
        }
    }};
}
pub(crate) use json_shapes;

/// What varies between runs, shown as a label: times and durations, PIDs. Applied in order
/// after the paths of the sandbox are replaced.
static FILTERS: std::sync::LazyLock<Vec<(regex::Regex, &'static str)>> =
    std::sync::LazyLock::new(|| {
        [
            // Not in backticks: those are examples in a message, the same on every run.
            (
                r"(?m)(^|[^`])\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})",
                "${1}[TIMESTAMP]",
            ),
            (r#""(\w+_at_ms|since_ms)": \d+"#, r#""$1": [EPOCH_MS]"#),
            (r#""age_ms": \d+"#, r#""age_ms": [AGE_MS]"#),
            (
                r#""(latency_ms|ttft_ms|elapsed_ms|duration_ms|p50|p95|p99)": \d+"#,
                r#""$1": [DURATION_MS]"#,
            ),
            (r#""(\w*pid)": \d+"#, r#""$1": [PID]"#),
            (r"\bpid \d+", "pid [PID]"),
        ]
        .into_iter()
        .map(|(pattern, label)| (regex::Regex::new(pattern).unwrap(), label))
        .collect()
    });

/// Identifiers that differ on every run, each distinct value numbered by first appearance so
/// that a snapshot still shows which worker, request or port is which. The first capture
/// group, when there is one, is the part replaced, and only when the predicate takes it.
type Numbered = (regex::Regex, &'static str, fn(&str) -> bool);

static NUMBERED: std::sync::LazyLock<Vec<Numbered>> = std::sync::LazyLock::new(|| {
    let any: fn(&str) -> bool = |_| true;
    [
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "UUID",
            any,
        ),
        (r"\bw[0-9a-f]{8}\b", "WORKER", any),
        (
            r"(?:127\.0\.0\.1|localhost):(\d{2,5})\b",
            "PORT",
            is_ephemeral_port,
        ),
    ]
    .into_iter()
    .map(|(pattern, label, keep)| (regex::Regex::new(pattern).unwrap(), label, keep))
    .collect()
});

/// Whether `port` is one the kernel hands out for `bind(0)`, as the scripted server's and
/// every refused port of the tests are; a fixed port (the default backend's 11438) is shown.
fn is_ephemeral_port(port: &str) -> bool {
    static RANGE: std::sync::LazyLock<(u32, u32)> = std::sync::LazyLock::new(|| {
        let text =
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
        let mut bounds = text.split_whitespace().map(|n| n.parse::<u32>().ok());
        match (bounds.next().flatten(), bounds.next().flatten()) {
            (Some(low), Some(high)) => (low, high),
            _ => (32768, 60999),
        }
    });
    port.parse::<u32>()
        .is_ok_and(|port| (RANGE.0..=RANGE.1).contains(&port))
}

impl Sandbox {
    /// A run as its snapshot shows it:
    ///
    /// ```text
    /// $ baton ARGS
    /// exit: N
    /// ----- stdout -----
    /// ...
    /// ----- stderr -----
    /// ...
    /// ```
    ///
    /// JSON on stdout (with `--json`) is checked to be one object or array on one line and is
    /// shown indented, keys in the order printed. With `--json` stderr is checked to be empty
    /// on success and to hold only `error:` and `hint:` lines on failure. Then the sandbox's
    /// path, its HOME, the machine's HOME, timestamps, durations, PIDs, ids and ports are
    /// masked.
    pub(crate) fn render(&self, run: &Run) -> String {
        let json = run.args.iter().any(|arg| arg == "--json");
        if json {
            if run.code == 0 {
                assert_eq!(run.stderr, "", "--json printed on stderr: {run:?}");
            } else {
                assert!(
                    run.stderr
                        .lines()
                        .all(|line| line.starts_with("error: ") || line.starts_with("hint: ")),
                    "--json printed more than the error on stderr: {run:?}"
                );
            }
        }
        let stdout = if json && !run.stdout.is_empty() {
            let line = run
                .stdout
                .strip_suffix('\n')
                .filter(|line| !line.contains('\n'))
                .unwrap_or_else(|| panic!("--json printed more than one line: {run:?}"));
            run.json();
            format!("{}\n", indent_json(line))
        } else {
            run.stdout.clone()
        };
        let mut text = format!(
            "$ baton {}\nexit: {}\n----- stdout -----\n{}{}----- stderr -----\n{}{}",
            shell_words(&run.args),
            run.code,
            stdout,
            final_newline(&stdout),
            run.stderr,
            final_newline(&run.stderr),
        );
        for (value, label) in &self.redactions {
            text = text.replace(value.as_str(), label);
        }
        let root = self.path().to_string_lossy().into_owned();
        let canonical = std::fs::canonicalize(self.path())
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_else(|_| root.clone());
        for path in [canonical, root] {
            text = text.replace(&format!("{path}/home"), "[HOME]");
            text = text.replace(&path, "[SANDBOX]");
        }
        text = text.replace(env!("CARGO_BIN_EXE_baton"), "[BATON]");
        if let Some(home) = std::env::var("HOME").ok().filter(|home| home.len() > 1) {
            let home = regex::Regex::new(&format!(r"{}\b", regex::escape(&home))).unwrap();
            text = home.replace_all(&text, "[MACHINE_HOME]").into_owned();
        }
        for (pattern, replacement) in FILTERS.iter() {
            text = pattern.replace_all(&text, *replacement).into_owned();
        }
        for (pattern, label, keep) in NUMBERED.iter() {
            text = number(&text, pattern, label, *keep);
        }
        text
    }
}

/// `text` with each distinct match of `pattern` (its first group, if it has one) that `keep`
/// takes replaced by `[LABEL_N]`, N counting distinct values from 1 in order of appearance.
fn number(text: &str, pattern: &regex::Regex, label: &str, keep: fn(&str) -> bool) -> String {
    let mut seen: Vec<String> = Vec::new();
    pattern
        .replace_all(text, |captures: &regex::Captures<'_>| {
            let whole = captures.get(0).unwrap();
            let value = captures.get(1).unwrap_or(whole);
            if !keep(value.as_str()) {
                return whole.as_str().to_string();
            }
            let n = match seen.iter().position(|known| known == value.as_str()) {
                Some(index) => index + 1,
                None => {
                    seen.push(value.as_str().to_string());
                    seen.len()
                }
            };
            let start = value.start() - whole.start();
            let end = value.end() - whole.start();
            format!(
                "{}[{label}_{n}]{}",
                &whole.as_str()[..start],
                &whole.as_str()[end..]
            )
        })
        .into_owned()
}

/// A marker for output that does not end its last line, which the snapshot would hide.
fn final_newline(output: &str) -> &'static str {
    if output.is_empty() || output.ends_with('\n') {
        ""
    } else {
        "\n[no newline at the end]\n"
    }
}

/// The arguments as a shell would take them back, quoted where needed.
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./=:,@%+-".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compact JSON laid out one value per line, indented by two spaces, keeping the order of
/// the keys as printed (a parsed `serde_json::Value` would sort them).
fn indent_json(compact: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                out.push(c);
                if chars.peek() == Some(&close) {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}
