//! The versioned schema: SQL files under `migrations/`, embedded in the binary, applied in
//! order and tracked by `PRAGMA user_version` (the number of migrations applied).
//!
//! Several baton processes may open a fresh database at the same moment, so each migration
//! runs in its own `BEGIN IMMEDIATE` transaction and re-reads the version once it holds the
//! write lock: the loser of the race finds the work done and applies nothing.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::StoreError;

/// One schema step. `version` is the `user_version` the database has after it.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first; `MIGRATIONS[i].version == i + 1`. Never edit a file that
/// has shipped: add the next one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_workers",
        sql: include_str!("../migrations/0002_workers.sql"),
    },
    Migration {
        version: 3,
        name: "0003_memory",
        sql: include_str!("../migrations/0003_memory.sql"),
    },
    Migration {
        version: 4,
        name: "0004_edits",
        sql: include_str!("../migrations/0004_edits.sql"),
    },
    Migration {
        version: 5,
        name: "0005_event_versions",
        sql: include_str!("../migrations/0005_event_versions.sql"),
    },
    Migration {
        version: 6,
        name: "0006_runs",
        sql: include_str!("../migrations/0006_runs.sql"),
    },
    Migration {
        version: 7,
        name: "0007_worker_roles",
        sql: include_str!("../migrations/0007_worker_roles.sql"),
    },
    Migration {
        version: 8,
        name: "0008_outbox",
        sql: include_str!("../migrations/0008_outbox.sql"),
    },
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`]. On an up-to-date database this is one read
/// of `user_version`: it runs on every CLI call.
pub(crate) fn apply(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let current = user_version(conn).map_err(|source| StoreError::Configure {
        path: path.to_path_buf(),
        what: "read user_version",
        source,
    })?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    check_not_newer(path, current)?;
    let mut seen = current;
    loop {
        // The version the next step would write; only used to name it in errors.
        let next = seen.saturating_add(1);
        let migrate_err = |version, source| StoreError::Migrate {
            path: path.to_path_buf(),
            version,
            source,
        };
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(|e| migrate_err(next, e))?;
        // Another process may have migrated while this one waited for the lock.
        let current = user_version(&tx).map_err(|e| migrate_err(next, e))?;
        check_not_newer(path, current)?;
        let Some(migration) = MIGRATIONS.get(current as usize) else {
            // Up to date: nothing was written, so dropping the transaction (rollback) is enough.
            return Ok(());
        };
        tx.execute_batch(migration.sql)
            .map_err(|e| migrate_err(migration.version, e))?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(|e| migrate_err(migration.version, e))?;
        tx.commit().map_err(|e| migrate_err(migration.version, e))?;
        tracing::info!(
            path = %path.display(),
            version = migration.version,
            name = migration.name,
            "applied database migration"
        );
        seen = migration.version;
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn check_not_newer(path: &Path, found: u32) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_by_one_and_match_their_file_names() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, i + 1, "{}", migration.name);
            assert!(
                migration.name.starts_with(&format!("{:04}_", i + 1)),
                "{}",
                migration.name
            );
        }
        assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_migration_that_fails_leaves_the_database_at_its_old_version() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("baton.db");
        let conn = Connection::open(&path).unwrap();
        // A table of the same name makes 0001 fail halfway through.
        conn.execute_batch("CREATE TABLE events (x INTEGER)")
            .unwrap();
        let err = apply(&conn, &path).unwrap_err();
        assert!(
            matches!(err, StoreError::Migrate { version: 1, .. }),
            "{err:?}"
        );
        assert_eq!(user_version(&conn).unwrap(), 0);
        let calls: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'calls'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(calls, 0, "the failed migration's tables were rolled back");
    }
}
