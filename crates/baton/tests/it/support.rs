//! A sealed `baton` command: temp HOME, XDG config dir and working directory, every
//! variable Baton reads stripped, and helpers to run it and read what it wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temp project directory and the environment `baton` runs in.
pub(crate) struct Sandbox {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) env: Vec<(String, String)>,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Sandbox {
            dir,
            env: Vec::new(),
        }
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
        Run::from(self.command(args).output().unwrap())
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
        Run::from(child.wait_with_output().unwrap())
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
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
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
        let root = self.path().to_string_lossy().into_owned();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
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
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if cwd.starts_with(&root) || cmdline.contains(&root) {
                found.push(pid);
            }
        }
        found
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
