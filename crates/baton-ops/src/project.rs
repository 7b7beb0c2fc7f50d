//! [`Project`]: what every action starts from — the working directory, the environment
//! snapshot, the configuration (loaded on first use, so that `baton ps` works beside a broken
//! `baton.toml`), the store's connection pool, the dispatcher whose endpoint pools concurrent
//! dispatches share, and the [`Supervisor`] command that starts workers. One `Project` is
//! shared (`Arc`) by every task of a process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use baton_config::{EnvSnapshot, LoadOptions, Loaded, Settings};
use baton_llm::Dispatcher;
use baton_store::{PooledStore, Store, StorePool};

use crate::OpsError;

/// The command that runs a worker's supervisor: `program ARGS… --store DB ID`. Injected by
/// the front end (the `baton` binary passes itself and its hidden `__supervise` command), so
/// the library never guesses an executable and tests can bring their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    pub program: PathBuf,
    /// Arguments before `--store DB ID`.
    pub args: Vec<String>,
}

impl Supervisor {
    /// The argument vector (without the program) that supervises worker `id` of `store`.
    pub fn args_for(&self, store: &Path, id: &str) -> Vec<String> {
        let mut args = self.args.clone();
        args.extend([
            "--store".to_string(),
            store.display().to_string(),
            id.to_string(),
        ]);
        args
    }
}

/// How to set a [`Project`] up.
#[derive(Debug, Clone, Default)]
pub struct ProjectOptions {
    pub cwd: PathBuf,
    pub env: EnvSnapshot,
    /// Raw `dotted.key=value` overrides, the highest config layer.
    pub overrides: Vec<String>,
    /// `None`: this process cannot start workers (an action that needs to says so).
    pub supervisor: Option<Supervisor>,
}

/// The shared starting point of every action.
pub struct Project {
    cwd: PathBuf,
    env: EnvSnapshot,
    overrides: Vec<String>,
    supervisor: Option<Supervisor>,
    store_path: PathBuf,
    pool: Mutex<Option<StorePool>>,
    /// The loaded layers and, shared with every dispatch, their settings.
    loaded: Mutex<Option<(Arc<Loaded>, Arc<Settings>)>>,
    dispatcher: Mutex<Option<Arc<Dispatcher>>>,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("cwd", &self.cwd)
            .field("store_path", &self.store_path)
            .finish_non_exhaustive()
    }
}

impl Project {
    /// A project for `options`. Nothing is opened or read yet.
    pub fn new(options: ProjectOptions) -> Project {
        let home = options
            .env
            .get(baton_config::env::BATON_HOME)
            .map(PathBuf::from);
        let store_path = Store::locate(&options.cwd, home.as_deref());
        Project {
            cwd: options.cwd,
            env: options.env,
            overrides: options.overrides,
            supervisor: options.supervisor,
            store_path,
            pool: Mutex::new(None),
            loaded: Mutex::new(None),
            dispatcher: Mutex::new(None),
        }
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The same project seen from another directory (a run's worktree): relative paths,
    /// context files and edits resolve there, while the store, the settings and the
    /// dispatcher (its endpoint pools and their in-flight counts) stay the ones of `self`.
    pub fn at(&self, cwd: PathBuf) -> Result<Project, OpsError> {
        let (loaded, settings) = self.load()?;
        let dispatcher = self.dispatcher()?;
        let pool = self.pool()?;
        Ok(Project {
            cwd,
            env: self.env.clone(),
            overrides: self.overrides.clone(),
            supervisor: self.supervisor.clone(),
            store_path: self.store_path.clone(),
            pool: Mutex::new(Some(pool)),
            loaded: Mutex::new(Some((loaded, settings))),
            dispatcher: Mutex::new(Some(dispatcher)),
        })
    }

    pub fn env(&self) -> &EnvSnapshot {
        &self.env
    }

    /// The raw `dotted.key=value` overrides (`-c`), for a process started on this project's
    /// behalf (a detached run) to see the configuration this one does.
    pub fn overrides(&self) -> &[String] {
        &self.overrides
    }

    /// Where the store lives: `BATON_HOME`, else the nearest `.baton/`, else next to `.git`.
    pub fn store_path(&self) -> &Path {
        &self.store_path
    }

    /// `path` made absolute against the working directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.cwd.join(path)
        }
    }

    /// The configuration, loaded once; a failed load is tried again on the next call.
    pub fn config(&self) -> Result<Arc<Loaded>, OpsError> {
        Ok(self.load()?.0)
    }

    /// The resolved settings.
    pub fn settings(&self) -> Result<Arc<Settings>, OpsError> {
        Ok(self.load()?.1)
    }

    fn load(&self) -> Result<(Arc<Loaded>, Arc<Settings>), OpsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((loaded, settings)) = loaded.as_ref() {
            return Ok((Arc::clone(loaded), Arc::clone(settings)));
        }
        let fresh = baton_config::load(&LoadOptions {
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            flags: Vec::new(),
            overrides: self.overrides.clone(),
        })?;
        let settings = Arc::new(fresh.settings.clone());
        let fresh = (Arc::new(fresh), settings);
        *loaded = Some((Arc::clone(&fresh.0), Arc::clone(&fresh.1)));
        Ok(fresh)
    }

    /// The dispatcher, made on first use; its endpoint pools are shared by every dispatch of
    /// this process.
    pub fn dispatcher(&self) -> Result<Arc<Dispatcher>, OpsError> {
        let mut dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(dispatcher) = dispatcher.as_ref() {
            return Ok(Arc::clone(dispatcher));
        }
        let fresh = Arc::new(Dispatcher::new(self.settings()?));
        *dispatcher = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// The store's connection pool, opened on first use (creating and migrating the file).
    pub fn pool(&self) -> Result<StorePool, OpsError> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pool.as_ref() {
            return Ok(pool.clone());
        }
        let fresh = StorePool::open(&self.store_path)?;
        *pool = Some(fresh.clone());
        Ok(fresh)
    }

    /// A connection for the calling task, given back to the pool when dropped.
    pub fn store(&self) -> Result<PooledStore, OpsError> {
        Ok(self.pool()?.get()?)
    }

    /// The supervisor command, or the error of a process that cannot start workers.
    pub fn supervisor(&self) -> Result<&Supervisor, OpsError> {
        self.supervisor.as_ref().ok_or_else(|| {
            OpsError::internal("this process was set up without a supervisor command")
        })
    }
}
