-- Token signing keys (jwt and hybrid modes), so that every restart signs and verifies with the
-- same keys. `seq` keeps the order keys were made. `material` is PKCS#8 DER, or the raw HMAC
-- secret: this file is as secret as the keys.
CREATE TABLE signing_keys (
    seq          INTEGER PRIMARY KEY,
    kid          TEXT    NOT NULL UNIQUE,
    algorithm    TEXT    NOT NULL,
    material     BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,                      -- unix seconds
    activated_at INTEGER NOT NULL,
    retire_after INTEGER,                               -- set once a newer key replaces it
    retired_at   INTEGER
);
