-- One row per rotated refresh session (hybrid mode), overwritten at each rotation, instead of
-- a row per spent key: storage is O(1) per session however often it refreshes. A refresh
-- token's first half names its family (`family` is the SHA-256 of it, tagged), so any token of
-- the session, however old, finds this row. `spent_key` presented again within the reuse
-- interval gets the successor `current_key` back (recomputed from that token and `nonce`,
-- which is useless without it); any other key of the family is reuse. Useless once the
-- session's absolute expiry (`until`) has passed, and purged then. See docs/MODES.md.
CREATE TABLE refresh_families (
    family      BLOB    NOT NULL PRIMARY KEY CHECK (length(family) = 32),
    current_key BLOB    NOT NULL CHECK (length(current_key) = 32),
    spent_key   BLOB    NOT NULL CHECK (length(spent_key) = 32),
    spent_at    INTEGER NOT NULL,                       -- unix seconds
    nonce       BLOB    NOT NULL CHECK (length(nonce) = 16),
    user_id     TEXT    NOT NULL,
    handle      TEXT    NOT NULL,
    until       INTEGER NOT NULL                        -- unix seconds
);

CREATE INDEX refresh_families_by_until ON refresh_families (until);

-- Its spent keys cannot be told from a family's any more: replayed after the upgrade, a token
-- spent before it is unknown (401 all the same) rather than reuse.
DROP TABLE spent_session_keys;
