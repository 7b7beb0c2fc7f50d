//! The pipeline tests' fixtures: a small Python project in a real git repository, verified
//! by a real pytest (`BATON_TEST_PYTHON`, which `scripts/test.sh` sets up), with a project
//! configured against a scripted server.

use std::path::{Path, PathBuf};

use baton_config::EnvSnapshot;
use baton_ops::{Project, ProjectOptions};
use baton_store::EventRow;
use baton_test_support::{Reply, ScriptedServer};

pub(crate) struct Repo {
    /// Holds the temp dir: the repository is `dir/repo`, the ticket `dir/T-1.md`.
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) ticket: PathBuf,
    pub(crate) project: Project,
}

/// `git ARGS` in `cwd`, which must succeed; its stdout.
pub(crate) async fn git(cwd: &Path, args: &[&str]) -> String {
    baton_pipeline::git::git(cwd, args)
        .await
        .unwrap_or_else(|error| panic!("git {args:?} in {}: {error}", cwd.display()))
}

/// Stages `paths` (`-A` for all) and commits them as a test user, in `cwd`.
pub(crate) async fn commit(cwd: &Path, paths: &[&str], message: &str) {
    let mut add = vec!["add"];
    add.extend(paths);
    git(cwd, &add).await;
    git(
        cwd,
        &[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@localhost",
            "commit",
            "--quiet",
            "-m",
            message,
        ],
    )
    .await;
}

/// A whole-file reply writing `content` to `path`, as a small model writes one.
pub(crate) fn whole(path: &str, content: &str) -> Reply {
    Reply::text(format!("{path}\n```python\n{content}```\n"))
}

/// The Python interpreter with pytest.
fn python() -> String {
    std::env::var("BATON_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("BATON_TEST_PYTHON is not set; run the tests with `bash scripts/test.sh`, which installs pytest")
    })
}

const TICKET: &str = "---\nid: T-1\ntitle: Add and sub\n---\n\n# Add and sub\n\nCalc needs add and sub.\n\n## Acceptance criteria\n\n- [ ] add returns the sum\n- [ ] sub returns the difference\n";

const TESTS: &str = "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n";

impl Repo {
    /// A repository holding `calc.py` (empty), `tests/test_calc.py`, `pyproject.toml` and a
    /// README with an uncommitted change of the user's; `baton.toml` (untracked) points every
    /// role at `server` and runs pytest.
    pub(crate) async fn python(server: &ScriptedServer) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        std::fs::create_dir_all(path.join("tests")).unwrap();
        std::fs::write(path.join("calc.py"), "").unwrap();
        std::fs::write(path.join("tests/test_calc.py"), TESTS).unwrap();
        std::fs::write(
            path.join("pyproject.toml"),
            "[project]\nname = \"calc\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        std::fs::write(path.join(".gitignore"), "__pycache__/\n.pytest_cache/\n").unwrap();
        std::fs::write(path.join("README.md"), "# calc\n").unwrap();
        git(&path, &["init", "--quiet", "-b", "main"]).await;
        commit(&path, &["-A"], "start").await;
        std::fs::write(path.join("README.md"), "user's own edit\n").unwrap();
        let python = python();
        std::fs::write(
            path.join("baton.toml"),
            format!(
                "[backends.local]\nurls = [\"{}\"]\nslots = 2\nretries = 0\n\n\
                 [profiles.code]\nmodel = \"scripted\"\nfallback = []\n\n\
                 [verify]\ntest = \"{python} -m pytest -q -p no:cacheprovider\"\nmax_fix_iterations = 2\n",
                server.openai_url()
            ),
        )
        .unwrap();
        let ticket = dir.path().join("T-1.md");
        std::fs::write(&ticket, TICKET).unwrap();
        let home = dir.path().join("home");
        let project = Project::new(ProjectOptions {
            cwd: path.clone(),
            env: EnvSnapshot::from_pairs(std::iter::empty(), Some(home)),
            overrides: Vec::new(),
            supervisor: None,
        });
        Repo {
            _dir: dir,
            path,
            ticket,
            project,
        }
    }

    /// Writes `name` beside the repository (not in it) and returns its path.
    pub(crate) fn write_outside(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.parent().unwrap().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

pub(crate) fn events_of(project: &Project, run_id: &str) -> Vec<EventRow> {
    project.store().unwrap().events_of(run_id).unwrap()
}
