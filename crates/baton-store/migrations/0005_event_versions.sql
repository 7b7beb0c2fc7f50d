-- Schema v5: typed events. Each event's payload has a versioned shape (baton_core::Event);
-- the row says which version it was written in, so that a payload whose shape changes later
-- is still read back as written. Every row written before this migration holds a version 1
-- payload.
ALTER TABLE events ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
