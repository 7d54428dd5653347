-- Sessions, keyed by the SHA-256 of the session ID (never the ID itself). Times are unix
-- seconds (BIGINT), as the crate keeps them: no conversion, and no range to fall out of.
-- `handle` sorts bytewise (COLLATE "C"), the order `list_user` promises whatever the
-- database's locale.
CREATE TABLE sessions (
    key                 BYTEA   NOT NULL PRIMARY KEY CHECK (octet_length(key) = 32),
    handle              TEXT    COLLATE "C" NOT NULL UNIQUE,
    user_id             TEXT    NOT NULL,
    user_name           TEXT    NOT NULL,
    roles               TEXT[]  NOT NULL DEFAULT '{}',
    created_at          BIGINT  NOT NULL,
    last_seen_at        BIGINT  NOT NULL,
    idle_expires_at     BIGINT  NOT NULL,
    absolute_expires_at BIGINT  NOT NULL,
    user_agent          TEXT,
    ip                  INET,
    version             BIGINT  NOT NULL DEFAULT 0 CHECK (version >= 0),
    data                TEXT    NOT NULL DEFAULT '{}'   -- JSON object, kept as written
);

-- A user's sessions, already in the order `list_user` returns them.
CREATE INDEX sessions_by_user ON sessions (user_id, created_at, handle);

-- When a session ends; `purge_expired` and `count_active` filter on this very expression.
CREATE INDEX sessions_by_expiry ON sessions ((least(idle_expires_at, absolute_expires_at)));
