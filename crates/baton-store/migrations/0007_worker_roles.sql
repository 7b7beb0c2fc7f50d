-- Schema v7: a third worker role, `coordinator` (the `baton run` of a detached run, which
-- starts agent workers itself and so takes no agent slot). SQLite cannot change a table's
-- CHECK in place: the table is rebuilt with the same columns, rows and indexes.

CREATE TABLE workers_v7 (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'starting', 'running',
                         'succeeded', 'failed', 'timed_out', 'hung', 'killed', 'lost')),
    why              TEXT,
    spec             TEXT NOT NULL,
    pid              INTEGER,
    pgid             INTEGER,
    process_start    INTEGER,
    supervisor_pid   INTEGER,
    supervisor_start INTEGER,
    started_at_ms    INTEGER,
    ended_at_ms      INTEGER,
    exit_code        INTEGER,
    log_path         TEXT NOT NULL,
    restarts         INTEGER NOT NULL DEFAULT 0 CHECK (restarts >= 0),
    remediation_of   TEXT,
    CHECK (json_valid(spec)
           AND name IS json_extract(spec, '$.name')
           AND remediation_of IS json_extract(spec, '$.remediation_of')
           AND coalesce(json_extract(spec, '$.role'), '') IN ('agent', 'server', 'coordinator')
           AND json_type(spec, '$.max_parallel') IS 'integer')
) STRICT;

INSERT INTO workers_v7 SELECT id, name, created_at_ms, status, why, spec, pid, pgid,
    process_start, supervisor_pid, supervisor_start, started_at_ms, ended_at_ms, exit_code,
    log_path, restarts, remediation_of FROM workers;
DROP TABLE workers;
ALTER TABLE workers_v7 RENAME TO workers;

CREATE INDEX workers_status_created ON workers (status, created_at_ms, id);
CREATE INDEX workers_created ON workers (created_at_ms, id);
CREATE INDEX workers_name ON workers (name, created_at_ms);
CREATE INDEX workers_remediation_of ON workers (remediation_of)
    WHERE remediation_of IS NOT NULL;
