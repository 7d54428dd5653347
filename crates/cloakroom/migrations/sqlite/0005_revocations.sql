-- The deny-list (jwt and hybrid modes): revoked tokens by `jti`, sessions by `sid`, users by
-- ID with a not-before time. Kept until `expires_at`, when every token it refuses has expired.
CREATE TABLE revocations (
    kind       TEXT    NOT NULL CHECK (kind IN ('token', 'session', 'user')),
    subject    TEXT    NOT NULL,
    not_before INTEGER,                                 -- users only, unix seconds
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
) WITHOUT ROWID;

CREATE INDEX revocations_by_expiry ON revocations (expires_at);
