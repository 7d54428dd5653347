-- Sessions, keyed by the SHA-256 of the session ID (never the ID itself).
CREATE TABLE sessions (
    key                 BLOB    NOT NULL PRIMARY KEY CHECK (length(key) = 32),
    handle              TEXT    NOT NULL UNIQUE,
    user_id             TEXT    NOT NULL,
    user_name           TEXT    NOT NULL,
    roles               TEXT    NOT NULL DEFAULT '[]',  -- JSON array of strings
    created_at          INTEGER NOT NULL,               -- unix seconds
    last_seen_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    user_agent          TEXT,
    ip                  TEXT,
    version             INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
    data                TEXT    NOT NULL DEFAULT '{}'   -- JSON object
);

-- A user's sessions, already in the order `list_user` returns them.
CREATE INDEX sessions_by_user ON sessions (user_id, created_at, handle);

-- When a session ends; `purge_expired` and `count_active` filter on this very expression.
CREATE INDEX sessions_by_expiry ON sessions (min(idle_expires_at, absolute_expires_at));
