-- Schema v3: the shared memory workers search for patterns before a task and store what
-- worked after it (`baton memory`, MCP `memory_store` / `memory_search`). Every write to
-- `memory` is recorded by an `events` row written in the same transaction (src/memory.rs).

-- One row per entry, unique per (namespace, key); the UNIQUE constraint is also the index
-- lookups by (namespace, key) use. `value` is the text exactly as given; `is_json` says the
-- caller handed it in as JSON (and then it must be valid JSON). `tags` is a JSON array of
-- strings. Expired rows (`expires_at_ms <= now`) are invisible to every read and are deleted
-- by `purge_expired`. The embedding columns are filled by `set_embedding` for a later hybrid
-- ranking: a little-endian f32 vector of `embedding_dim` values made by `embedding_model`,
-- all three set or all three NULL. `id` is the rowid the full-text index refers to. The small
-- columns a search filters on come first and the large ones last, so that reading them never
-- has to follow a long value onto its overflow pages.
CREATE TABLE memory (
    id              INTEGER PRIMARY KEY,
    namespace       TEXT NOT NULL CHECK (namespace <> ''),
    key             TEXT NOT NULL CHECK (key <> ''),
    is_json         INTEGER NOT NULL CHECK (is_json IN (0, 1)),
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER,
    access_count    INTEGER NOT NULL DEFAULT 0 CHECK (access_count >= 0),
    embedding_model TEXT,
    embedding_dim   INTEGER,
    tags            TEXT NOT NULL CHECK (json_valid(tags) AND json_type(tags) IS 'array'),
    value           TEXT NOT NULL,
    embedding       BLOB,
    UNIQUE (namespace, key),
    CHECK (is_json = 0 OR json_valid(value)),
    CHECK ((embedding IS NULL AND embedding_model IS NULL AND embedding_dim IS NULL)
           OR (embedding_model <> '' AND embedding_dim > 0
               AND length(embedding) = 4 * embedding_dim))
) STRICT;

-- `purge_expired` and the opportunistic purge on store find expired rows by expiry.
CREATE INDEX memory_expires ON memory (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
-- `baton memory list` pages newest updated first, in one namespace or in all.
CREATE INDEX memory_namespace_updated ON memory (namespace, updated_at_ms);
CREATE INDEX memory_updated ON memory (updated_at_ms);
-- Vector candidates are the rows embedded by one model.
CREATE INDEX memory_embedding_model ON memory (embedding_model, namespace)
    WHERE embedding_model IS NOT NULL;

-- Full-text index over key, value and tags (FTS5 tables cannot be STRICT). External content:
-- the text lives only in `memory`, the triggers below keep the index in step with it.
-- unicode61 splits on punctuation, so the key `pattern-auth-retry` is indexed as the words
-- pattern, auth, retry, and the tags' JSON as the tags' words; porter stems them.
CREATE VIRTUAL TABLE memory_fts USING fts5 (
    key, value, tags,
    content = 'memory', content_rowid = 'id',
    tokenize = 'porter unicode61'
);

CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory BEGIN
    INSERT INTO memory_fts (rowid, key, value, tags) VALUES (new.id, new.key, new.value, new.tags);
END;

CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, key, value, tags)
        VALUES ('delete', old.id, old.key, old.value, old.tags);
END;

-- Only a change of the indexed text re-indexes: counting an access or setting an embedding
-- leaves the index alone.
CREATE TRIGGER memory_fts_update AFTER UPDATE OF key, value, tags ON memory BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, key, value, tags)
        VALUES ('delete', old.id, old.key, old.value, old.tags);
    INSERT INTO memory_fts (rowid, key, value, tags) VALUES (new.id, new.key, new.value, new.tags);
END;
