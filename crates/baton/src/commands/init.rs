//! `baton init --agent claude|codex|goose`: connects the agents a user already drives to
//! Baton, in the project (the git root above the working directory, else the working
//! directory itself), and never outside it.
//!
//! Per agent it writes the agent's own project-level MCP configuration for `baton mcp`
//! (`.mcp.json` for Claude Code, `.codex/config.toml` for Codex) and an instruction file
//! saying when and how to hand work to Baton (the skill `.claude/skills/baton/SKILL.md`,
//! a section of `AGENTS.md`, `.goosehints`). goose reads extensions only from its user
//! configuration, never from a project, so for goose the lines to add are printed, not
//! written.
//!
//! Parts: the plan (`plan`: every file read and its new text computed, so a bad file fails
//! the command before anything is written), the merges (JSON, TOML with its comments kept,
//! the marked block of `guide`), the atomic writes, and the printed [`InitResponse`].

mod guide;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use baton_ops::Project;
use serde::Serialize;

use crate::cli::{InitAgent, InitArgs};
use crate::error::{CliError, Exit};
use crate::output::Printer;

/// The name of Baton's MCP server in every agent's configuration.
const SERVER_NAME: &str = "baton";
/// Arguments of the executable that serve MCP on stdio.
const SERVER_ARGS: [&str; 1] = ["mcp"];
/// How long goose waits for one tool call of an extension (its own default).
const GOOSE_TIMEOUT_SECS: u64 = 300;

/// What `baton init` did.
#[derive(Debug, Serialize)]
pub struct InitResponse {
    /// The project directory the files are in.
    pub project: String,
    pub files: Vec<InitFile>,
    /// What the user still has to do, or should know (approvals, lines to paste).
    pub notes: Vec<String>,
}

/// One file written (or found up to date) for one agent.
#[derive(Debug, Serialize)]
pub struct InitFile {
    pub agent: InitAgent,
    /// Relative to the project.
    pub path: String,
    pub action: InitAction,
    pub what: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitAction {
    Created,
    Updated,
    /// Already as Baton would write it: not touched.
    Unchanged,
}

impl InitAction {
    fn as_str(self) -> &'static str {
        match self {
            InitAction::Created => "created",
            InitAction::Updated => "updated",
            InitAction::Unchanged => "unchanged",
        }
    }
}

pub fn run(project: &Project, args: InitArgs) -> Result<ExitCode, CliError> {
    let printer = Printer::new(args.json);
    let agents = chosen(&args.agents)?;
    let root = project_root(project.cwd());
    let program = executable()?;
    let planned = plan(&root, &program, &agents)?;
    let mut files = Vec::with_capacity(planned.len());
    for file in planned {
        let action = match &file.old {
            None => InitAction::Created,
            Some(old) if *old == file.new => InitAction::Unchanged,
            Some(_) => InitAction::Updated,
        };
        if action != InitAction::Unchanged {
            write_atomically(&file.target, &file.new).map_err(|error| {
                CliError::new(
                    Exit::Output,
                    format!("cannot write {}: {error}", file.target.display()),
                )
                .hint(
                    "check that the directory is writable, then run `baton init` again \
                     (files already written are reported unchanged)",
                )
            })?;
        }
        files.push(InitFile {
            agent: file.agent,
            path: file.relative.to_string(),
            action,
            what: file.what.to_string(),
        });
    }
    let response = InitResponse {
        project: root.display().to_string(),
        files,
        notes: notes(&agents, &program),
    };
    if printer.is_json() {
        printer.json(&response)?;
    } else {
        printer.text(render(&response))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The agents asked for, each once, in the order given.
fn chosen(agents: &[InitAgent]) -> Result<Vec<InitAgent>, CliError> {
    if agents.is_empty() {
        return Err(
            CliError::new(Exit::Usage, "no agent given: `baton init` needs `--agent`").hint(
                "name the agents to set up: `--agent claude`, `--agent codex`, `--agent goose`, \
                 or several at once (`--agent claude,codex,goose`)",
            ),
        );
    }
    let mut seen = BTreeSet::new();
    Ok(agents
        .iter()
        .copied()
        .filter(|agent| seen.insert(agent.name()))
        .collect())
}

/// The nearest directory above `cwd` holding `.git` (a directory, or a file in a worktree),
/// as the store is found (DESIGN.md section 2); else `cwd`. No `git` is run: a project that
/// is not a repository yet gets its files where the user stands.
fn project_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// The absolute path of this very binary: the agents start it without a shell or a PATH
/// that is sure to hold `baton`.
fn executable() -> Result<String, CliError> {
    let path = std::env::current_exe().map_err(|error| {
        CliError::new(
            Exit::Internal,
            format!("cannot find the path of the running baton executable: {error}"),
        )
        .hint("the executable may have been moved or deleted while running: run it again")
    })?;
    path.to_str().map(str::to_string).ok_or_else(|| {
        CliError::new(
            Exit::Internal,
            format!(
                "the path of the baton executable is not UTF-8: {}",
                path.display()
            ),
        )
        .hint("install baton under a path of UTF-8 characters, which config files can hold")
    })
}

/// One file to write: where, what it held and what it will hold.
struct Planned {
    agent: InitAgent,
    relative: &'static str,
    /// Where the text goes: the file, or the file a symlink there points to.
    target: PathBuf,
    old: Option<String>,
    new: String,
    what: &'static str,
}

/// Every file of every agent, read, checked and merged; nothing is written yet, so one bad
/// file fails the command with the project as it was.
fn plan(root: &Path, program: &str, agents: &[InitAgent]) -> Result<Vec<Planned>, CliError> {
    let block = guide::block();
    let mut planned = Vec::new();
    for &agent in agents {
        let files: &[(&'static str, &'static str)] = match agent {
            InitAgent::Claude => &[
                (
                    ".mcp.json",
                    "MCP server `baton` (baton mcp) for Claude Code",
                ),
                (
                    ".claude/skills/baton/SKILL.md",
                    "skill `baton`: when and how to hand work to Baton",
                ),
            ],
            InitAgent::Codex => &[
                (
                    ".codex/config.toml",
                    "MCP server `baton` (baton mcp) for Codex",
                ),
                ("AGENTS.md", "section: when and how to hand work to Baton"),
            ],
            InitAgent::Goose => &[(".goosehints", "hints: when and how to hand work to Baton")],
        };
        for &(relative, what) in files {
            let target = target(root, relative)?;
            let old = read_existing(&target)?;
            let text = old.as_deref();
            let new = match relative {
                ".mcp.json" => claude_mcp(&target, text, program)?,
                ".codex/config.toml" => codex_mcp(&target, text, program)?,
                ".claude/skills/baton/SKILL.md" => guide::skill(&target, text, &block)?,
                _ => guide::merge_block(&target, text.unwrap_or(""), &block)?,
            };
            planned.push(Planned {
                agent,
                relative,
                target,
                old,
                new,
                what,
            });
        }
    }
    Ok(planned)
}

/// Where `relative` is written: the path itself, or, when it is a symlink (`AGENTS.md` is
/// often one to `CLAUDE.md`), the file it points to, so the link survives the rename. A link
/// or a directory leading out of the project is refused.
fn target(root: &Path, relative: &str) -> Result<PathBuf, CliError> {
    let path = root.join(relative);
    let outside = |resolved: &Path| {
        CliError::new(
            Exit::Input,
            format!(
                "{} leads outside the project (to {}); nothing was written",
                path.display(),
                resolved.display()
            ),
        )
        .hint("`baton init` writes only inside the project: replace the link with a file")
    };
    let Ok(canonical_root) = std::fs::canonicalize(root) else {
        return Ok(path);
    };
    // The nearest part of the path that exists says where the rest will land.
    let existing = path
        .ancestors()
        .find(|part| std::fs::symlink_metadata(part).is_ok())
        .unwrap_or(root);
    let resolved = std::fs::canonicalize(existing).map_err(|error| {
        CliError::new(
            Exit::Input,
            format!(
                "cannot resolve {}: {error}; nothing was written",
                existing.display()
            ),
        )
        .hint("a symlink may point to nothing: remove it or make it point to a file")
    })?;
    if !resolved.starts_with(&canonical_root) {
        return Err(outside(&resolved));
    }
    if existing == path {
        Ok(resolved)
    } else {
        Ok(path)
    }
}

/// The text of a file, or `None` when there is none yet.
fn read_existing(path: &Path) -> Result<Option<String>, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            CliError::new(
                Exit::Input,
                format!("{} is not UTF-8 text; nothing was written", path.display()),
            )
            .hint("save the file as UTF-8, or move it away and run `baton init` again")
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(CliError::new(
            Exit::Input,
            format!(
                "cannot read {}: {error}; nothing was written",
                path.display()
            ),
        )
        .hint("check the file's permissions, then run `baton init` again")),
    }
}

/// A file that cannot be merged into: what is wrong, and that nothing was written.
fn unmergeable(path: &Path, problem: impl std::fmt::Display) -> CliError {
    CliError::new(
        Exit::Input,
        format!(
            "cannot add Baton to {}: {problem}; nothing was written",
            path.display()
        ),
    )
    .hint("fix the file (or move it away), then run `baton init` again")
}

/// `.mcp.json` with `mcpServers.baton` set to start `program mcp`; every other server and
/// key is kept, and so are the extra keys of an existing `baton` entry (its `env`). The
/// keys come back sorted when the file is rewritten (serde_json keeps no order here), so a
/// file already right is left byte for byte as it is.
fn claude_mcp(path: &Path, old: Option<&str>, program: &str) -> Result<String, CliError> {
    use serde_json::{Value, json};
    let mut config = match old {
        Some(text) if !text.trim().is_empty() => serde_json::from_str::<Value>(text)
            .map_err(|error| unmergeable(path, format!("it is not valid JSON ({error})")))?,
        _ => json!({}),
    };
    let Some(top) = config.as_object_mut() else {
        return Err(unmergeable(path, "it is not a JSON object"));
    };
    let servers = top
        .entry("mcpServers")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| unmergeable(path, "`mcpServers` is not an object"))?;
    let entry = servers
        .entry(SERVER_NAME)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| unmergeable(path, "`mcpServers.baton` is not an object"))?;
    let wanted = [
        ("type", json!("stdio")),
        ("command", json!(program)),
        ("args", json!(SERVER_ARGS)),
    ];
    if let Some(text) = old
        && wanted
            .iter()
            .all(|(key, value)| entry.get(*key) == Some(value))
    {
        return Ok(text.to_string());
    }
    for (key, value) in wanted {
        entry.insert(key.to_string(), value);
    }
    let mut text = serde_json::to_string_pretty(&config)
        .map_err(|error| unmergeable(path, format!("it cannot be written back ({error})")))?;
    text.push('\n');
    Ok(text)
}

/// `.codex/config.toml` with a `[mcp_servers.baton]` table starting `program mcp`, edited in
/// place with toml_edit so the user's comments, layout and other tables stay as they were;
/// a value already right is not even re-formatted.
fn codex_mcp(path: &Path, old: Option<&str>, program: &str) -> Result<String, CliError> {
    use toml_edit::{Array, DocumentMut, Item, Table, value};
    let mut document = old
        .unwrap_or("")
        .parse::<DocumentMut>()
        .map_err(|error| unmergeable(path, format!("it is not valid TOML ({error})")))?;
    let servers = document
        .as_table_mut()
        .entry("mcp_servers")
        .or_insert_with(|| {
            // Implicit: `[mcp_servers.baton]` alone, without an empty `[mcp_servers]` above.
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_like_mut()
        .ok_or_else(|| unmergeable(path, "`mcp_servers` is not a table"))?;
    let entry = servers
        .entry(SERVER_NAME)
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| unmergeable(path, "`mcp_servers.baton` is not a table"))?;
    if entry.get("command").and_then(Item::as_str) != Some(program) {
        entry.insert("command", value(program));
    }
    let args_right = entry
        .get("args")
        .and_then(Item::as_array)
        .is_some_and(|args| {
            args.iter()
                .map(|arg| arg.as_str())
                .eq(SERVER_ARGS.map(Some))
        });
    if !args_right {
        entry.insert("args", value(SERVER_ARGS.into_iter().collect::<Array>()));
    }
    Ok(document.to_string())
}

/// What is left to the user: approving the servers, and goose's extension, which lives in
/// its user configuration.
fn notes(agents: &[InitAgent], program: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for agent in agents {
        match agent {
            InitAgent::Claude => notes.push(
                "Claude Code asks to approve the project's `.mcp.json` servers on first use; \
                 check with `claude mcp list` or `/mcp`"
                    .to_string(),
            ),
            InitAgent::Codex => notes.push(
                "Codex reads `.codex/config.toml` only in a trusted project; check with \
                 `codex mcp list` or `/mcp`"
                    .to_string(),
            ),
            InitAgent::Goose => notes.push(goose_note(program)),
        }
    }
    notes
}

/// goose takes extensions from its user configuration (`~/.config/goose/config.yaml`, and
/// files named in `GOOSE_ADDITIONAL_CONFIG_FILES`), a recipe or `--with-extension`, never
/// from the project: Baton writes no file outside the project, so it prints the entry.
fn goose_note(program: &str) -> String {
    // A JSON string is a YAML double-quoted scalar: the path is quoted whatever it holds.
    let cmd = serde_json::to_string(program).unwrap_or_else(|_| format!("\"{program}\""));
    let mut note = format!(
        "goose reads extensions from its user configuration, not from the project: merge \
         these lines into ~/.config/goose/config.yaml (or into a file named by \
         GOOSE_ADDITIONAL_CONFIG_FILES), then start a new session:\n\
         extensions:\n  {SERVER_NAME}:\n    enabled: true\n    type: stdio\n    name: {SERVER_NAME}\n    \
         description: Baton runs, dispatch and shared memory\n    cmd: {cmd}\n    \
         args: [{}]\n    timeout: {GOOSE_TIMEOUT_SECS}",
        SERVER_ARGS.join(", ")
    );
    // goose splits `--with-extension` at whitespace, so a path with spaces cannot go there.
    if !program.contains(char::is_whitespace) {
        note.push_str(&format!(
            "\nfor one session only: goose session --with-extension '{program} {}'",
            SERVER_ARGS.join(" ")
        ));
    }
    note
}

/// The response for people: the project, one line per file, then the notes.
fn render(response: &InitResponse) -> String {
    let width = response
        .files
        .iter()
        .map(|file| file.path.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = vec![format!("project: {}", response.project)];
    for file in &response.files {
        lines.push(format!(
            "{:<9}  {:<6}  {:<width$}  {}",
            file.action.as_str(),
            file.agent.name(),
            file.path,
            file.what
        ));
    }
    for note in &response.notes {
        lines.push(String::new());
        lines.push(format!("note: {note}"));
    }
    lines.join("\n")
}

/// `text` into `path` by a temp file in the same directory renamed over it, so a reader (or
/// a crash) never sees half a file; an existing file's permissions are kept.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let temp = dir.join(format!(".{name}.baton-{}.tmp", std::process::id()));
    let written = write_and_rename(&temp, path, text);
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The steps of [`write_atomically`]; it removes the temp file when one of them fails.
fn write_and_rename(temp: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::create(temp)?;
    file.write_all(text.as_bytes())?;
    if let Ok(existing) = std::fs::metadata(path) {
        file.set_permissions(existing.permissions())?;
    }
    file.sync_all()?;
    std::fs::rename(temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_new_codex_config_holds_only_the_baton_table() {
        let text = codex_mcp(Path::new("c.toml"), None, "/bin/baton").unwrap();
        assert_eq!(
            text,
            "[mcp_servers.baton]\ncommand = \"/bin/baton\"\nargs = [\"mcp\"]\n"
        );
    }

    #[test]
    fn a_codex_config_already_right_comes_back_byte_for_byte() {
        let old =
            "# mine\n[mcp_servers.baton]\ncommand=\"/bin/baton\"   # here\nargs = [ \"mcp\" ]\n";
        let text = codex_mcp(Path::new("c.toml"), Some(old), "/bin/baton").unwrap();
        assert_eq!(text, old);
    }

    #[test]
    fn a_claude_config_keeps_the_extra_keys_of_the_baton_entry() {
        let old = r#"{"mcpServers": {"baton": {"command": "/old", "env": {"A": "1"}}}}"#;
        let text = claude_mcp(Path::new(".mcp.json"), Some(old), "/bin/baton").unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"mcpServers": {"baton": {
                "type": "stdio", "command": "/bin/baton", "args": ["mcp"], "env": {"A": "1"}
            }}})
        );
    }

    #[test]
    fn a_claude_config_that_is_not_an_object_is_refused() {
        let error = claude_mcp(Path::new(".mcp.json"), Some("[1]"), "/bin/baton").unwrap_err();
        assert_eq!(error.exit, Exit::Input);
        assert!(error.message.contains("not a JSON object"), "{error}");
    }

    #[test]
    fn the_goose_entry_quotes_the_path() {
        let note = goose_note("/opt/my tools/baton");
        assert!(note.contains("cmd: \"/opt/my tools/baton\""), "{note}");
        assert!(!note.contains("--with-extension"), "{note}");
    }
}
