-- Schema v2: workers (agent CLIs and model servers under a supervisor, DESIGN.md section 6).
-- Every change of a row here is recorded by an `events` row written in the same transaction.

-- One row per worker (baton_core::WorkerRecord). `spec` is the whole WorkerSpec as JSON, as
-- decided at spawn time; `name` and `remediation_of` are copied out of it for lookups, and
-- the table CHECK keeps the copies equal to the spec and the fields the queue reads in shape
-- (`json_valid` first: the other tests are only evaluated on valid JSON; `IS` and coalesce
-- because a CHECK that comes out NULL passes).
CREATE TABLE workers (
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
           AND coalesce(json_extract(spec, '$.role'), '') IN ('agent', 'server')
           AND json_type(spec, '$.max_parallel') IS 'integer')
) STRICT;

-- The queue (oldest queued first), the slot count (starting and running) and `baton ps`
-- (not ended) all select by status and order by age.
CREATE INDEX workers_status_created ON workers (status, created_at_ms, id);
-- `baton ps --all` and friends list everything by age.
CREATE INDEX workers_created ON workers (created_at_ms, id);
-- Lookup by name picks the newest worker of that name.
CREATE INDEX workers_name ON workers (name, created_at_ms);
-- The remediation chain of a worker.
CREATE INDEX workers_remediation_of ON workers (remediation_of)
    WHERE remediation_of IS NOT NULL;

-- The events of one subject (a worker's history), in order.
CREATE INDEX events_subject ON events (subject, id);
