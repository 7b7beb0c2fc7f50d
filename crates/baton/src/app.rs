//! What every command starts from: the working directory, the environment snapshot, the
//! resolved configuration and, on demand, the store.

use std::path::{Path, PathBuf};

use baton_config::{EnvSnapshot, LoadOptions, Loaded};
use baton_store::Store;

use crate::error::{CliError, Exit};

/// The shared starting point of a command.
pub struct App {
    pub cwd: PathBuf,
    pub env: EnvSnapshot,
    /// Raw `-c key=value` overrides.
    pub overrides: Vec<String>,
}

impl App {
    pub fn from_process(overrides: Vec<String>) -> Result<App, CliError> {
        let cwd = std::env::current_dir().map_err(|error| {
            CliError::new(
                Exit::Internal,
                format!("cannot read the working directory: {error}"),
            )
            .hint("the directory may have been removed: `cd` into an existing one")
        })?;
        Ok(App {
            cwd,
            env: EnvSnapshot::from_process(),
            overrides,
        })
    }

    /// Loads the configuration with extra flag values (dotted key, value, flag name).
    pub fn config(&self, flags: Vec<(String, toml::Value, String)>) -> Result<Loaded, CliError> {
        Ok(baton_config::load(&LoadOptions {
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            flags,
            overrides: self.overrides.clone(),
        })?)
    }

    /// Where the store lives: `BATON_HOME`, else the nearest `.baton/`, else next to `.git`.
    pub fn store_path(&self) -> PathBuf {
        let home = self.env.get(baton_config::env::BATON_HOME).map(Path::new);
        Store::locate(&self.cwd, home)
    }

    pub fn open_store(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.store_path())?)
    }
}

/// A single-threaded async runtime: every command runs on one, and so do the helpers that
/// need async I/O from synchronous code (embeddings, dispatches requested over MCP).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            CliError::new(
                Exit::Internal,
                format!("cannot start the async runtime: {error}"),
            )
            .hint("the system may be out of threads or file descriptors (see `ulimit -a`)")
        })
}

/// All of stdin as text; `what` names it in the error ("the reply", "the value"), `hint`
/// says what to pipe instead.
pub fn read_stdin(what: &str, hint: &str) -> Result<String, CliError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|error| {
        CliError::new(
            Exit::Input,
            format!("cannot read {what} from stdin: {error}"),
        )
        .hint(hint)
    })?;
    Ok(text)
}
