//! [`StorePool`]: connections to one database shared by the tasks of a long-lived process
//! (`baton mcp`, `baton run`, the dashboard). A [`Store`] owns a SQLite connection, so it is
//! `Send` but not `Sync`; a task takes one from the pool, uses it, and gives it back when the
//! [`PooledStore`] drops. Idle connections are kept (up to [`StorePool::MAX_IDLE`]), so a
//! task pays a mutex and a `Vec::pop` instead of opening the database (pragmas and a schema
//! check). `bench/store_access.sh` compares this with a connection per task and with one
//! connection behind an actor thread.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Store, StoreError};

/// A cloneable handle on a pool of connections to the database at one path.
#[derive(Debug, Clone)]
pub struct StorePool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl StorePool {
    /// Idle connections kept for reuse; beyond this a returned connection is closed. Tasks of
    /// one process rarely hold more at once (SQLite takes one writer at a time anyway).
    pub const MAX_IDLE: usize = 8;

    /// Opens the database (creating and migrating it, so that a bad file is reported now and
    /// not at the first task) and keeps that first connection for reuse.
    pub fn open(path: &Path) -> Result<StorePool, StoreError> {
        let first = Store::open(path)?;
        Ok(StorePool {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(vec![first]),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A connection for the calling task: an idle one, else a new one.
    pub fn get(&self) -> Result<PooledStore, StoreError> {
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let store = match idle {
            Some(store) => store,
            None => Store::open(&self.inner.path)?,
        };
        Ok(PooledStore {
            store: Some(store),
            pool: Arc::clone(&self.inner),
        })
    }

    /// Idle connections held now (for tests and the benchmark).
    pub fn idle(&self) -> usize {
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A connection taken from a [`StorePool`]; it goes back to the pool when dropped. It is
/// `Send`, so a task may hold it across `.await` points; borrow the [`Store`] only between
/// them.
#[derive(Debug)]
pub struct PooledStore {
    store: Option<Store>,
    pool: Arc<Inner>,
}

impl Deref for PooledStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        // Taken out only in `drop`.
        match &self.store {
            Some(store) => store,
            None => unreachable!("a pooled store is only emptied when dropped"),
        }
    }
}

impl Drop for PooledStore {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        // A connection left inside a transaction (a panic mid-write) is not reused: rusqlite
        // rolls back on drop, and a fresh one is opened when needed.
        if !store.conn.is_autocommit() {
            return;
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < StorePool::MAX_IDLE {
            idle.push(store);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_connection_is_reused_and_the_pool_is_shared_by_clones() {
        let dir = tempfile::TempDir::new().unwrap();
        let pool = StorePool::open(&dir.path().join("baton.db")).unwrap();
        assert_eq!(pool.idle(), 1);
        let clone = pool.clone();
        {
            let first = pool.get().unwrap();
            let second = clone.get().unwrap();
            assert_eq!(pool.idle(), 0);
            assert_eq!(first.path(), second.path());
        }
        assert_eq!(pool.idle(), 2);
    }

    #[test]
    fn pooled_connections_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send::<PooledStore>();
        assert_send_sync::<StorePool>();
    }

    #[test]
    fn no_more_than_max_idle_connections_are_kept() {
        let dir = tempfile::TempDir::new().unwrap();
        let pool = StorePool::open(&dir.path().join("baton.db")).unwrap();
        let held: Vec<PooledStore> = (0..StorePool::MAX_IDLE + 3)
            .map(|_| pool.get().unwrap())
            .collect();
        drop(held);
        assert_eq!(pool.idle(), StorePool::MAX_IDLE);
    }
}
