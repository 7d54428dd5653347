-- Users. `seq` keeps the order users were added (VACUUM may renumber an implicit rowid).
CREATE TABLE users (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,            -- UUID v4
    username        TEXT    NOT NULL,                   -- as written
    username_folded TEXT    NOT NULL UNIQUE,            -- lowercase, for case-insensitive lookup
    roles           TEXT    NOT NULL DEFAULT '[]',      -- JSON array of strings
    password_hash   TEXT    NOT NULL,                   -- argon2id PHC string
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL                    -- unix seconds
);
