-- Schema v6: pipeline runs. One row per `baton run`, its current status beside the
-- events (subject = the run id) that say how it got there; and the dispatch requests each
-- run made, so that ledger rows (`calls`, by request_id) are tagged with run, subtask and role
-- without a column on every call.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    ticket_id     TEXT NOT NULL,
    title         TEXT NOT NULL,
    ticket_path   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'awaiting_review', 'approved',
                    'rejected', 'verify_failed', 'budget_exhausted', 'interrupted', 'failed')),
    why           TEXT,
    repo          TEXT NOT NULL,
    base_commit   TEXT NOT NULL,
    branch        TEXT NOT NULL,
    worktree      TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX runs_created ON runs (created_at_ms);

CREATE TABLE run_requests (
    request_id TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    subtask    TEXT,
    role       TEXT NOT NULL CHECK (role IN ('orchestrator', 'architect', 'coder', 'reviewer')),
    phase      TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX run_requests_run ON run_requests (run_id);
