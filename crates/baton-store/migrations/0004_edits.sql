-- Schema v4: the edits ledger. One row per model reply handed to the applier (`baton apply`,
-- `baton dispatch --apply`): which model wrote it, the format it was asked for and the one it
-- parsed as, whether it was well-formed, and what became of its edits. `baton stats --edits`
-- groups these by model and format, so that a profile's `edit_format` is chosen from
-- measurement. Each row is written with an `edit.applied` event in the same transaction.
CREATE TABLE edits (
    id              TEXT PRIMARY KEY NOT NULL,
    request_id      TEXT,
    at_ms           INTEGER NOT NULL,
    model           TEXT,
    format          TEXT NOT NULL CHECK (format IN ('whole', 'search-replace', 'udiff')),
    parsed_as       TEXT CHECK (parsed_as IN ('whole', 'search-replace', 'udiff')),
    well_formed     INTEGER NOT NULL CHECK (well_formed IN (0, 1)),
    edits           INTEGER NOT NULL CHECK (edits >= 0),
    applied         INTEGER NOT NULL CHECK (applied >= 0),
    already_applied INTEGER NOT NULL CHECK (already_applied >= 0),
    failed          INTEGER NOT NULL CHECK (failed >= 0),
    refused         INTEGER NOT NULL CHECK (refused >= 0),
    written         INTEGER NOT NULL CHECK (written IN (0, 1)),
    dry_run         INTEGER NOT NULL CHECK (dry_run IN (0, 1))
) STRICT;

-- `baton stats --edits --since` reads a time window.
CREATE INDEX edits_at ON edits (at_ms);
