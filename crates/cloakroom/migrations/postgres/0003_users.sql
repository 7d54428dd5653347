-- Users. `seq` keeps the order users were added; `username_folded` (lowercase) makes names
-- unique case-insensitively, and is what lookups use.
CREATE TABLE users (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,            -- UUID v4
    username        TEXT    NOT NULL,                   -- as written
    username_folded TEXT    NOT NULL UNIQUE,
    roles           TEXT[]  NOT NULL DEFAULT '{}',
    password_hash   TEXT    NOT NULL,                   -- argon2id PHC string
    disabled        BOOLEAN NOT NULL DEFAULT false,
    created_at      BIGINT  NOT NULL                    -- unix seconds
);
