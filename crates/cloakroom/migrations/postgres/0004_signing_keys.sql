-- Token signing keys (jwt and hybrid modes), so that every node and every restart signs and
-- verifies with the same keys. `seq` keeps the order keys were made. `material` is PKCS#8
-- DER, or the raw HMAC secret: grant this table to nobody else.
CREATE TABLE signing_keys (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kid          TEXT   NOT NULL UNIQUE,
    algorithm    TEXT   NOT NULL,
    material     BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,                       -- unix seconds
    activated_at BIGINT NOT NULL,
    retire_after BIGINT,                                -- set once a newer key replaces it
    retired_at   BIGINT
);
