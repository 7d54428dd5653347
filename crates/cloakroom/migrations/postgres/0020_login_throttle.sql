-- The sign-in throttle shared by every node (PostgresThrottle): one row per subject, the
-- account and client pair (`p:…`), the client (`i:…`) or the account (`a:…`), accounts by the
-- SHA-256 of their lowercased name. Times are unix seconds from the database's clock. Rows
-- past `expires_at` mean nothing and are purged by the throttle itself.
-- (Numbered 0020, apart from the store's own migrations, so that migrations added to the store
-- meanwhile keep their numbers.)
CREATE TABLE login_throttle (
    subject      TEXT COLLATE "C" PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);

CREATE INDEX login_throttle_by_expiry ON login_throttle (expires_at);
