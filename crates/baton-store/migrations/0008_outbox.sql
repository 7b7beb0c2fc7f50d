-- Schema v8: the publishing outbox. A run's publications (a push, a pull request, a comment,
-- a status change, a webhook delivery) are queued here as the run makes them and delivered
-- from here, so that a target that is down loses nothing and `baton publish RUN` retries what
-- is pending. (run_id, target, key) is unique: queueing the same publication again, as a
-- resumed run does, adds nothing, and a publication marked sent is never delivered again.
-- A delivery holds a lease (`lease_until_ms`) so that two processes never deliver one row at
-- the same time.
CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs (id),
    target         TEXT NOT NULL CHECK (target IN ('github', 'linear', 'webhook')),
    key            TEXT NOT NULL,
    action         TEXT NOT NULL,
    payload        TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sent')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    result         TEXT,
    lease_until_ms INTEGER,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    UNIQUE (run_id, target, key)
);
CREATE INDEX outbox_pending ON outbox (status, run_id, target, id);
