-- Schema v1: the call ledger, the reply cache, endpoint probes and the event trail.
-- Tables are STRICT so a wrong type is an error at write time, not a surprise at read time.
-- JSON columns are TEXT checked with json_valid().

-- One row per attempt to get a reply from one endpoint (baton_core::CallRecord).
CREATE TABLE calls (
    id                TEXT PRIMARY KEY NOT NULL,
    request_id        TEXT NOT NULL,
    started_at_ms     INTEGER NOT NULL,
    profile           TEXT NOT NULL,
    route             TEXT NOT NULL,
    backend           TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    model             TEXT NOT NULL,
    locality          TEXT NOT NULL CHECK (locality IN ('local', 'cloud')),
    attempt           INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    estimated         INTEGER NOT NULL CHECK (estimated IN (0, 1)),
    latency_ms        INTEGER NOT NULL,
    ttft_ms           INTEGER,
    outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'cache_hit')),
    error_class       TEXT CHECK (error_class IN ('retryable', 'final')),
    error             TEXT,
    cache_hit         INTEGER NOT NULL CHECK (cache_hit IN (0, 1)),
    cost_usd          REAL NOT NULL,
    avoided_usd       REAL NOT NULL
) STRICT;

-- `baton stats --since` and the dashboard read recent calls; per-model views group by these.
CREATE INDEX calls_started_at ON calls (started_at_ms);
CREATE INDEX calls_backend_model ON calls (backend, model);

-- Exact-request reply cache, keyed by the hash of the normalized request.
CREATE TABLE cache (
    key           TEXT PRIMARY KEY NOT NULL,
    created_at_ms INTEGER NOT NULL,
    backend       TEXT NOT NULL,
    model         TEXT NOT NULL,
    reply         TEXT NOT NULL,
    usage         TEXT NOT NULL CHECK (json_valid(usage)),
    hits          INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Last health probe of each model server URL (`baton doctor`, the endpoint pool).
CREATE TABLE endpoints (
    url          TEXT PRIMARY KEY NOT NULL,
    probed_at_ms INTEGER NOT NULL,
    ok           INTEGER NOT NULL CHECK (ok IN (0, 1)),
    server_kind  TEXT,
    models       TEXT NOT NULL CHECK (json_valid(models)),
    n_ctx        INTEGER,
    error        TEXT
) STRICT;

-- The append-only audit trail. AUTOINCREMENT so an id is never reused, even after the
-- newest rows are deleted: readers page with "after this id".
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    data    TEXT NOT NULL CHECK (json_valid(data))
) STRICT;
