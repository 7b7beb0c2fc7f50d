//! Baton's one SQLite database, `.baton/baton.db`: every baton process opens it directly and
//! it is the only coordination point between them (DESIGN.md section 2). Callers get typed
//! methods; no SQL leaves this crate.
//!
//! Parts:
//! - this file: [`Store`] (open, configure) and [`StoreError`];
//! - `migrate.rs`: the versioned schema in `migrations/*.sql`, tracked by `PRAGMA user_version`;
//! - `locate.rs`: finding the database from a working directory, like git finds `.git`;
//! - `calls.rs`: the call ledger, one row per attempt ([`baton_core::CallRecord`]);
//! - `stats.rs`: latency, tokens local vs cloud and cost over the ledger ([`StatsReport`]);
//! - `cache.rs`: the exact-request reply cache ([`CachedReply`]);
//! - `probes.rs`: the last health probe of each model server URL ([`EndpointProbe`]);
//! - `events.rs`: the append-only audit trail ([`EventRow`]);
//! - `workers.rs`: supervised workers, their slot queue and state changes
//!   ([`baton_core::WorkerRecord`]), each change with its event;
//! - `memory.rs` (with `memory/types.rs`, `memory/search.rs`, `memory/terms.rs`,
//!   `memory/score.rs`, `memory/candidates.rs`): the shared memory workers store patterns
//!   and results in ([`MemoryEntry`]), its FTS5 search with absolute scores
//!   ([`SearchReply`]) and embeddings kept for a later hybrid ranking, each write with its
//!   event;
//! - `edits.rs`: the edits ledger, one row per reply handed to the applier
//!   ([`baton_core::EditRecord`]), and well-formedness per model and format ([`EditStats`]);
//! - `runs.rs`: pipeline runs ([`baton_core::run::RunRecord`]) and the dispatch requests each
//!   made, which tag the ledger's rows with run, subtask and role ([`RunUsage`]);
//! - `outbox.rs`: the publishing outbox ([`OutboxRow`]): a run's publications, queued once by
//!   key, claimed with a lease, each outcome with its event;
//! - `pool.rs`: [`StorePool`], connections shared by the tasks of a long-lived process;
//! - `codec.rs`: column conversions shared by the parts above.

mod cache;
mod calls;
mod codec;
mod edits;
mod events;
mod locate;
mod memory;
mod migrate;
mod outbox;
mod pool;
mod probes;
mod runs;
mod stats;
mod workers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_core::WorkerStatus;
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use cache::CachedReply;
pub use edits::EditStats;
pub use events::EventRow;
pub use memory::{
    MEMORY_MAX_TERMS, MEMORY_SCORE_NORMALIZATION, MEMORY_SEARCH_METHOD, MEMORY_STOP_WORDS,
    MemoryEntry, MemoryQuery, NamespaceStats, NewMemory, SearchHit, SearchReply, SearchTerm,
    StoreManySummary, StoreOutcome, ToEmbed, VectorCandidate,
};
pub use migrate::SCHEMA_VERSION;
pub use outbox::{Delivery, NewPublication, OutboxRow, OutboxStatus};
pub use pool::{PooledStore, StorePool};
pub use probes::EndpointProbe;
pub use runs::{RunRole, RunUsage};
pub use stats::{GroupStats, Percentiles, StatsReport, TokenSplit};
pub use workers::MIN_ID_PREFIX;

/// WAL pages after which a commit checkpoints into the main file.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 200;

/// Pause between attempts to switch a new database to WAL while another process holds it.
const WAL_SWITCH_RETRY: Duration = Duration::from_millis(5);

/// Page cache per connection, in KiB (SQLite reads a negative `cache_size` as KiB).
const PAGE_CACHE_KIB: i64 = -32 * 1024;

/// How long a connection waits for another process's write lock before giving up. Writes
/// are short (a few rows), so five seconds means something is stuck, not merely busy.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// What went wrong with the store. None of these is worth retrying as is: the busy timeout
/// already waited for other writers, so a `Query` error caused by `SQLITE_BUSY` means a
/// writer held the lock for more than five seconds.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create directory {} for the database", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot configure database {} ({what})", path.display())]
    Configure {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {} is schema v{found}, this baton knows up to v{known}",
        path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("cannot migrate database {} to schema v{version}", path.display())]
    Migrate {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {}: cannot {what}", path.display())]
    Query {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot encode {what} as JSON")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("no worker `{id}`")]
    UnknownWorker { id: String },
    #[error(
        "`{prefix}` is the start of {} worker ids: {}",
        candidates.len(),
        candidates.join(", ")
    )]
    AmbiguousWorker {
        prefix: String,
        /// Every matching id, in id order.
        candidates: Vec<String>,
    },
    #[error("cannot end worker `{id}` as `{status}`: the worker would still be going")]
    NotAnEnd { id: String, status: WorkerStatus },
    #[error("no run `{id}`")]
    UnknownRun { id: String },
    #[error(
        "`{prefix}` is the start of {} run ids: {}",
        candidates.len(),
        candidates.join(", ")
    )]
    AmbiguousRun {
        prefix: String,
        candidates: Vec<String>,
    },
    #[error("key `{key}` already exists in namespace `{namespace}`")]
    MemoryKeyExists { namespace: String, key: String },
    /// An event row that does not decode as the event its kind and version name.
    #[error("cannot read event {id}")]
    Decode {
        id: i64,
        #[source]
        source: baton_core::event::DecodeError,
    },
    /// A memory entry, query or embedding the store refuses; `why` names what is wrong.
    #[error("cannot {what}: {why}")]
    InvalidMemory { what: &'static str, why: String },
}

impl StoreError {
    /// What the user can do about it, for a `hint:` line. `None` for [`StoreError::SchemaTooNew`]
    /// and [`StoreError::MemoryKeyExists`], whose messages already end with their hint, and for
    /// [`StoreError::InvalidMemory`], whose message says what to change.
    pub fn hint(&self) -> Option<String> {
        match self {
            StoreError::CreateDir { .. } | StoreError::Open { .. } => Some(
                "check the directory's permissions, or point BATON_HOME at a writable one".into(),
            ),
            StoreError::Configure { .. } | StoreError::Migrate { .. } => {
                Some("check that the file is a baton database and the disk is not full".into())
            }
            StoreError::SchemaTooNew { .. } => Some("upgrade baton".into()),
            StoreError::MemoryKeyExists { .. } => {
                Some("store it with upsert to replace the entry, or pick another key".into())
            }
            StoreError::InvalidMemory { .. } => None,
            StoreError::Query { source, .. }
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                Some(
                    "another baton process held the database lock too long; check `baton ps`"
                        .into(),
                )
            }
            StoreError::Query { .. } => None,
            StoreError::Decode { .. } => Some(
                "the event was written by another version of baton or by hand; upgrade baton, or report it"
                    .into(),
            ),
            StoreError::Encode { .. } | StoreError::NotAnEnd { .. } => {
                Some("this is a bug in baton; please report it".into())
            }
            StoreError::UnknownWorker { .. } => Some("`baton ps` lists the workers".into()),
            StoreError::UnknownRun { .. } => Some("`baton runs` lists the runs".into()),
            StoreError::AmbiguousRun { .. } => Some("give more characters of the run id".into()),
            StoreError::AmbiguousWorker { .. } => {
                Some("give more characters of the id, or the worker's name".into())
            }
        }
    }
}

/// An open connection to the database. One per thread: it owns a [`rusqlite::Connection`],
/// so it is `Send` but not `Sync`. Opening is cheap (a few pragmas and one read of
/// `user_version`), so every CLI call opens its own.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, and its parent directory, then
    /// brings its schema up to [`SCHEMA_VERSION`]. Refuses a database written by a newer baton.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let configure = |what, source| StoreError::Configure {
            path: path.to_path_buf(),
            what,
            source,
        };
        // The busy timeout goes first so that everything after it, the journal mode switch
        // of a fresh file included, waits for other processes instead of failing at once.
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| configure("busy_timeout", e))?;
        // WAL lets readers (`baton ps`, the dashboard) run beside one writer; NORMAL sync is
        // safe under WAL (a power cut may lose the last commits, never corrupt the file).
        let mode = enable_wal(&conn).map_err(|e| configure("journal_mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "database is not in WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| configure("synchronous, foreign_keys", e))?;
        // Up to 32 MiB of page cache (SQLite's default is 2 MiB), filled only as pages are read:
        // a short CLI call uses what it reads, a long-lived process (`baton mcp`, `baton serve`)
        // keeps the memory's full-text index and rows cached, which halves the time of a
        // search over 100k entries.
        conn.pragma_update(None, "cache_size", PAGE_CACHE_KIB)
            .map_err(|e| configure("cache_size", e))?;
        // Most baton processes are short and alone on the database: without this, each one
        // would checkpoint the WAL into the main file and delete it on close (fsyncs and
        // unlinks on every CLI call). The WAL stays instead, and SQLite's automatic
        // checkpoint (every 1000 pages) keeps it bounded.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(|e| configure("no_ckpt_on_close", e))?;
        // The first process to open the file after all others closed it reads the whole WAL
        // to rebuild its index: keep the WAL short (checkpoint every ~200 pages, not 1000).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .map_err(|e| configure("wal_autocheckpoint", e))?;
        migrate::apply(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database path for a process working in `cwd` (pass an absolute path, such as
    /// `std::env::current_dir()`):
    /// 1. `baton_home/baton.db` when `baton_home` is given (`BATON_HOME`);
    /// 2. else `D/.baton/baton.db` for the nearest ancestor `D` of `cwd` (itself included) that
    ///    has a `.baton` directory, the way git finds `.git`;
    /// 3. else `<git root>/.baton/baton.db` for the nearest ancestor with a `.git` entry (a
    ///    directory, or the file a worktree or submodule has);
    /// 4. else `cwd/.baton/baton.db`.
    ///
    /// `.baton` is looked for above every `.git` first on purpose: baton's own worktrees live in
    /// `.baton/worktrees/RUN` and have a `.git` file, and a worker running there must find the
    /// project's database, not start a new one inside the worktree.
    ///
    /// Nothing is created here; [`Store::open`] creates the directory.
    pub fn locate(cwd: &Path, baton_home: Option<&Path>) -> PathBuf {
        locate::locate(cwd, baton_home)
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction that takes the write lock at once. A deferred transaction
    /// that reads first and writes later can fail with `SQLITE_BUSY` without waiting when
    /// another connection wrote in between; `BEGIN IMMEDIATE` waits out the busy timeout.
    /// Dropping the result without `commit` rolls back.
    fn write_tx(&self, what: &'static str) -> Result<Transaction<'_>, StoreError> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(self.query_err(what))
    }

    /// Wraps a rusqlite error with this database's path and what was being done.
    fn query_err(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Query {
            path: self.path.clone(),
            what,
            source,
        }
    }
}

/// Puts the database in WAL mode and returns the mode it is in. Switching a new file to WAL
/// takes an exclusive lock for which SQLite does not call the busy handler, so two processes
/// creating the store at once would see SQLITE_BUSY: retry until the busy timeout instead.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let mode: String = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(mode);
    }
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(WAL_SWITCH_RETRY);
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
    }

    #[test]
    fn open_creates_missing_parent_directories() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("a/b/.baton/baton.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.path(), path);
        assert!(path.is_file());
    }

    #[test]
    fn open_turns_on_wal_and_foreign_keys_and_a_larger_page_cache() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(&dir.path().join("baton.db")).unwrap();
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        let sync: i64 = store
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        let cache: i64 = store
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), fk, sync), ("wal", 1, 1));
        assert_eq!(cache, PAGE_CACHE_KIB);
    }
}
