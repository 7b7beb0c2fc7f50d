//! Verification: the quality gates (build, test, lint) run in the run's worktree, each with a
//! deadline; the commands come from `[verify]` or, when it is empty, are detected from the
//! project's files. A failing gate's output is trimmed to what a fix needs (the failing tests
//! and the first errors, then the end), and hashed into a signature: the same signature twice
//! in a row means the fixes are stuck.

use std::path::Path;
use std::time::Duration;

use baton_config::settings::VerifySettings;
use baton_core::event::{Gate, VerifyRan};
use baton_exec::run::{RunRequest, Streams, run};
use sha2::{Digest, Sha256};

use crate::PipelineError;

/// The variable every gate process of a run carries, set to the run's id.
pub const GATE_ENV: &str = "BATON_RUN_GATE";

/// One gate and the shell command that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCommand {
    pub gate: Gate,
    pub command: String,
}

/// The gates to run and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gates {
    pub commands: Vec<GateCommand>,
    /// `None` when configured; else what the detection went by (`Cargo.toml`).
    pub detected_from: Option<String>,
}

/// The configured gates, or those the worktree's files call for.
pub fn gates(settings: &VerifySettings, worktree: &Path) -> Gates {
    let configured: Vec<GateCommand> = [
        (Gate::Build, &settings.build),
        (Gate::Test, &settings.test),
        (Gate::Lint, &settings.lint),
    ]
    .into_iter()
    .filter(|(_, command)| !command.trim().is_empty())
    .map(|(gate, command)| GateCommand {
        gate,
        command: command.clone(),
    })
    .collect();
    if !configured.is_empty() {
        return Gates {
            commands: configured,
            detected_from: None,
        };
    }
    detect(worktree)
}

fn detect(root: &Path) -> Gates {
    let has = |name: &str| root.join(name).exists();
    let command = |gate, text: &str| GateCommand {
        gate,
        command: text.to_string(),
    };
    let (from, commands) = if has("Cargo.toml") {
        (
            "Cargo.toml",
            vec![
                command(Gate::Build, "cargo build --quiet --all-targets"),
                command(Gate::Test, "cargo test --quiet"),
            ],
        )
    } else if has("pyproject.toml") || has("pytest.ini") || has("setup.py") || has("setup.cfg") {
        let marker = ["pyproject.toml", "pytest.ini", "setup.py", "setup.cfg"]
            .into_iter()
            .find(|name| has(name))
            .unwrap_or("pyproject.toml");
        (
            marker,
            vec![
                command(Gate::Build, "python3 -m compileall -q ."),
                command(Gate::Test, "python3 -m pytest -q"),
            ],
        )
    } else if has("package.json") {
        ("package.json", vec![command(Gate::Test, "npm test")])
    } else if has("go.mod") {
        (
            "go.mod",
            vec![
                command(Gate::Build, "go build ./..."),
                command(Gate::Test, "go test ./..."),
            ],
        )
    } else if dotnet_project(root) {
        (
            "*.csproj / *.sln",
            vec![
                command(Gate::Build, "dotnet build"),
                command(Gate::Test, "dotnet test"),
            ],
        )
    } else if has("tests") || has("test_*.py") {
        ("tests/", vec![command(Gate::Test, "python3 -m pytest -q")])
    } else {
        ("nothing", Vec::new())
    };
    Gates {
        commands,
        detected_from: Some(from.to_string()),
    }
}

fn dotnet_project(root: &Path) -> bool {
    std::fs::read_dir(root).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".csproj") || name.ends_with(".sln")
        })
    })
}

/// Runs one gate with `sh -c` in `worktree`, stdout and stderr merged in order; what it did
/// is the `verify.ran` event of verification round `iteration`, its output trimmed (see
/// [`trim_output`]).
pub async fn run_gate(
    gate: &GateCommand,
    worktree: &Path,
    timeout: Duration,
    max_output_bytes: usize,
    run_id: &str,
    iteration: u32,
) -> Result<VerifyRan, PipelineError> {
    let request = RunRequest::new("sh", worktree)
        .args(["-c", gate.command.as_str()])
        .streams(Streams::Merged)
        // Build tools need their caches and toolchains: the usual variables pass.
        .pass_env("CARGO_HOME")
        .pass_env("RUSTUP_HOME")
        .pass_env("CARGO_TARGET_DIR")
        .pass_env("VIRTUAL_ENV")
        .pass_env("PYTHONPATH")
        .pass_env("GOPATH")
        .pass_env("GOCACHE")
        .pass_env("DOTNET_ROOT")
        .set_env("CI", "true")
        // A fix often rewrites a file within the same second and at the same size (`a - b`
        // to `a + b`); Python would then trust a stale .pyc, whose check is mtime in seconds
        // and size, and test the old code.
        .set_env("PYTHONDONTWRITEBYTECODE", "1")
        // Marks the gate's processes as this run's: a resume after `kill -9` finds and stops
        // what the dead coordinator left running (`baton_exec::proc::kill_groups_with_env`).
        .set_env(GATE_ENV, run_id)
        .timeout(timeout);
    let output = run(&request)
        .await
        .map_err(|error| PipelineError::Ops(baton_ops::OpsError::internal(error.to_string())))?;
    let timed_out = output.termination == baton_exec::Termination::TimedOut;
    let exit_code = match output.exit {
        baton_exec::Exit::Code(code) => Some(code),
        baton_exec::Exit::Signal(_) => None,
    };
    let mut text = output.stdout.text();
    if timed_out {
        text.push_str(&format!(
            "\n[stopped: the gate ran past its {}s deadline]\n",
            timeout.as_secs()
        ));
    }
    Ok(VerifyRan {
        iteration,
        gate: gate.gate,
        command: gate.command.clone(),
        passed: output.success(),
        exit_code,
        timed_out,
        duration_ms: u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX),
        output: trim_output(&text, max_output_bytes),
    })
}

/// Lines that say what failed, in the output of common build and test tools.
fn is_failure_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    const MARKERS: &[&str] = &[
        "error",
        "Error",
        "ERROR",
        "FAILED",
        "FAIL",
        "failed",
        "panicked",
        "Traceback",
        "assert",
        "Assertion",
        "E  ",
        "undefined",
        "cannot find",
        "not found",
        "expected",
        "SyntaxError",
        "NameError",
        "TypeError",
        "ImportError",
        "ModuleNotFoundError",
    ];
    MARKERS
        .iter()
        .any(|marker| trimmed.starts_with(marker) || line.contains(marker))
}

/// What a fix is sent of a gate's output, within `max_bytes`: first the lines that say what
/// failed (with the line after each, which often holds the place), then the end of the
/// output (summaries come last), without repeating a line.
pub fn trim_output(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![false; lines.len()];
    let head_cap = max_bytes / 2;
    let mut used = 0;
    for i in 0..lines.len() {
        if used >= head_cap {
            break;
        }
        if is_failure_line(lines[i]) {
            for j in i..(i + 2).min(lines.len()) {
                if !keep[j] && used + lines[j].len() < head_cap {
                    keep[j] = true;
                    used += lines[j].len() + 1;
                }
            }
        }
    }
    for i in (0..lines.len()).rev() {
        if keep[i] {
            continue;
        }
        if used + lines[i].len() + 1 > max_bytes {
            break;
        }
        keep[i] = true;
        used += lines[i].len() + 1;
    }
    let mut out = String::new();
    let mut skipped = false;
    for (line, kept) in lines.iter().zip(&keep) {
        if *kept {
            if skipped {
                out.push_str("[...]\n");
                skipped = false;
            }
            out.push_str(line);
            out.push('\n');
        } else {
            skipped = true;
        }
    }
    out
}

/// The signature of a failure: the gate and its failure lines with numbers taken out (line
/// numbers, durations and addresses change from one try to the next when nothing else does).
pub fn signature(result: &VerifyRan) -> String {
    let mut hasher = Sha256::new();
    hasher.update(result.gate.as_str());
    for line in result.output.lines().filter(|line| is_failure_line(line)) {
        let squashed: String = line.chars().filter(|c| !c.is_ascii_digit()).collect();
        hasher.update(squashed.trim());
        hasher.update("\n");
    }
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Files of the worktree the output names (`src/x.py:12`, `File "tests/test_x.py"`), so that
/// a fix sees them.
pub fn files_named(output: &str, worktree: &Path) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in output.split(|c: char| c.is_whitespace() || "\"'(),".contains(c)) {
        let path = word
            .split(':')
            .next()
            .unwrap_or("")
            .trim_start_matches("./");
        if path.is_empty() || path.len() > 200 || !path.contains('.') {
            continue;
        }
        let relative = match Path::new(path).strip_prefix(worktree) {
            Ok(relative) => relative.to_string_lossy().into_owned(),
            Err(_) if Path::new(path).is_absolute() => continue,
            Err(_) => path.to_string(),
        };
        if relative.starts_with("..") || found.contains(&relative) {
            continue;
        }
        if worktree.join(&relative).is_file() {
            found.push(relative);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_output_keeps_its_failure_lines_and_its_end() {
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!("collecting item {i}\n"));
        }
        text.push_str("FAILED tests/test_calc.py::test_add - assert 3 == 4\n");
        for i in 0..500 {
            text.push_str(&format!("more noise {i}\n"));
        }
        text.push_str("1 failed, 3 passed in 0.12s\n");
        let trimmed = trim_output(&text, 2000);
        assert!(trimmed.len() <= 2100, "{}", trimmed.len());
        assert!(trimmed.contains("FAILED tests/test_calc.py::test_add"));
        assert!(trimmed.contains("1 failed, 3 passed"));
        assert!(!trimmed.contains("collecting item 3\n"));
    }

    #[test]
    fn the_same_failure_with_other_line_numbers_has_the_same_signature() {
        let result = |output: &str| VerifyRan {
            iteration: 0,
            gate: Gate::Test,
            command: "pytest".into(),
            passed: false,
            exit_code: Some(1),
            timed_out: false,
            duration_ms: 5,
            output: output.into(),
        };
        let a = signature(&result("FAILED t.py:12 assert 1 == 2\n"));
        let b = signature(&result("FAILED t.py:14 assert 1 == 2\n"));
        let c = signature(&result("FAILED t.py:14 NameError: name 'x'\n"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn detection_picks_cargo_then_python_and_says_what_it_went_by() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect(dir.path()).commands.is_empty());
        std::fs::write(dir.path().join("pyproject.toml"), "").unwrap();
        let gates = detect(dir.path());
        assert_eq!(gates.detected_from.as_deref(), Some("pyproject.toml"));
        assert!(gates.commands.iter().any(|g| g.command.contains("pytest")));
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(
            detect(dir.path()).detected_from.as_deref(),
            Some("Cargo.toml")
        );
    }

    #[test]
    fn files_named_in_an_output_are_those_of_the_worktree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/calc.py"), "").unwrap();
        let output = "  File \"src/calc.py\", line 3\nerror in lib/missing.py:4\n";
        assert_eq!(files_named(output, dir.path()), vec!["src/calc.py"]);
    }
}
