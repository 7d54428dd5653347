-- Refresh-session keys that were rotated away (hybrid mode). Presenting one again means the
-- refresh token was copied: the session is found by `handle` and ended. A row is useless once
-- its session's absolute expiry (`until`) has passed, and is purged then.
CREATE TABLE spent_session_keys (
    key     BLOB    NOT NULL PRIMARY KEY CHECK (length(key) = 32),
    user_id TEXT    NOT NULL,
    handle  TEXT    NOT NULL,
    until   INTEGER NOT NULL                            -- unix seconds
);

CREATE INDEX spent_session_keys_by_until ON spent_session_keys (until);
