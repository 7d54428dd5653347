"""What bench/run.py measures: every target, and the goals it checks.

Adding a target is one line in TARGETS. A target is a server started on a free loopback port,
logged in once, then driven on one "who am I" route with the credential it handed out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The near-cache in front of Redis (`[session] near_cache`, docs/MANY_NODES.md), at the TTL
# that document suggests. BENCH_NEAR_CACHE (a TOML fragment) overrides it.
NEAR_CACHE_TOML = '[session]\nnear_cache = "2s"\n'


@dataclass(frozen=True)
class Target:
    """One server to measure."""

    name: str  # short, stable: the key in the results file
    label: str  # what the table and chart say
    group: str  # ceiling | cloakroom | cloakroom-tuned | example | rust-peer | express-peer
    kind: str  # how it is started: server | example | rust | node
    path: str  # the route wrk drives
    login: str  # none | cookie | bearer: what the login answers with
    login_path: str = ""
    # For `server`: the settings (TOML) on top of the common ones; for `example`: the example's
    # name; for `rust`: the binary; for `node`: the script under bench/peers/express.
    spec: str = ""
    # An optional target may be refused by this build (settings it does not know yet): it is
    # then reported as "not available in this build" instead of failing the run.
    optional: bool = False
    needs_redis: bool = False
    env: dict[str, str] = field(default_factory=dict)
    # For `server`: wrk cycles through this many distinct access tokens (bench/wrk-tokens.lua)
    # instead of presenting one; 0: the login's token, again and again.
    tokens: int = 0


def server(name, label, settings, *, optional=False, needs_redis=False, tokens=0):
    """`cloakroom serve` with `settings` (TOML), driven on `GET /auth/me`."""
    login = "cookie" if 'mode = "session"' in settings else "bearer"
    group = ("cloakroom-tuned" if name.endswith("-tuned")
             else "token-curve" if tokens else "cloakroom")
    return Target(name, label, group, "server", "/auth/me", login, "/auth/login",
                  settings, optional, needs_redis, tokens=tokens)


# The N-distinct-tokens curve: hybrid EdDSA (the default mode), as shipped, wrk cycling
# through N tokens minted beforehand (examples/mint_tokens.rs) that live for the whole run.
# Past the verified-token cache's capacity every request is a first sight: a signature check.
CURVE = 'mode = "hybrid"\n[jwt]\naccess_ttl = "3h"\n'
CURVE_TARGETS = [
    server(f"tokens-{n}", f"hybrid EdDSA, {n:,} distinct token{'s' if n > 1 else ''}", CURVE,
           tokens=n)
    for n in (1, 1_000, 10_000, 100_000)
]


REDIS = 'session_store = "{redis_url}"\n'

# The server's main rows run as a user starts it: default settings, so the access log is on
# (one line per request, to the log file). `*-tuned` rows beside them turn it off
# (`log.filter = "warn"`), as the peers, which log nothing.
TUNED = '[log]\nfilter = "warn"\n'

TARGETS: list[Target] = [
    Target("ceiling", "bare axum handler (no auth)", "ceiling", "rust", "/me", "none",
           spec="bench-ceiling"),
    server("session-memory", "Cloakroom session, memory",
           'mode = "session"\nsession_store = "memory"\n'),
    server("session-memory-tuned", "Cloakroom session, memory, log off (tuned)",
           'mode = "session"\nsession_store = "memory"\n' + TUNED),
    server("session-sqlite", "Cloakroom session, SQLite (default store)",
           'mode = "session"\nsession_store = "sqlite"\n'),
    server("session-sqlite-tuned", "Cloakroom session, SQLite, log off (tuned)",
           'mode = "session"\nsession_store = "sqlite"\n' + TUNED),
    server("session-redis", "Cloakroom session, Redis",
           'mode = "session"\n' + REDIS, optional=True, needs_redis=True),
    server("session-redis-near", "Cloakroom session, Redis + near-cache",
           'mode = "session"\n' + REDIS + "{near_cache}", optional=True, needs_redis=True),
    server("jwt-hs256", "Cloakroom jwt, HS256",
           'mode = "jwt"\n[jwt]\nalgorithm = "HS256"\n'),
    server("jwt-hs256-tuned", "Cloakroom jwt, HS256, log off (tuned)",
           'mode = "jwt"\n' + TUNED + '[jwt]\nalgorithm = "HS256"\n'),
    server("jwt-eddsa", "Cloakroom jwt, EdDSA",
           'mode = "jwt"\n[jwt]\nalgorithm = "EdDSA"\n'),
    server("jwt-es256", "Cloakroom jwt, ES256",
           'mode = "jwt"\n[jwt]\nalgorithm = "ES256"\n'),
    server("hybrid-hs256", "Cloakroom hybrid, HS256",
           'mode = "hybrid"\n[jwt]\nalgorithm = "HS256"\n'),
    server("hybrid-eddsa", "Cloakroom hybrid, EdDSA (default mode)",
           'mode = "hybrid"\n'),
    server("hybrid-eddsa-tuned", "Cloakroom hybrid, EdDSA, log off (tuned)",
           'mode = "hybrid"\n' + TUNED),
    Target("example-session", "cloakroom-axum example: session", "example", "example",
           "/profile", "cookie", "/login", "session"),
    Target("example-jwt", "cloakroom-axum example: jwt (HS256)", "example", "example",
           "/profile", "bearer", "/login", "jwt"),
    Target("example-hybrid", "cloakroom-axum example: hybrid on the facade (EdDSA)", "example",
           "example", "/profile", "bearer", "/login", "hybrid"),
    Target("tower-sessions", "axum + tower-sessions (MemoryStore)", "rust-peer", "rust", "/me",
           "cookie", "/login", "bench-tower-sessions"),
    Target("axum-jsonwebtoken", "axum + jsonwebtoken (HS256)", "rust-peer", "rust", "/me",
           "bearer", "/login", "bench-jsonwebtoken"),
    Target("express-session", "Express + express-session (MemoryStore)", "express-peer", "node",
           "/profile", "cookie", "/login", "session.js"),
    Target("express-session-redis", "Express + express-session + connect-redis", "express-peer",
           "node", "/profile", "cookie", "/login", "session-redis.js", needs_redis=True),
    Target("express-jsonwebtoken", "Express + jsonwebtoken (HS256)", "express-peer", "node",
           "/profile", "bearer", "/login", "jwt.js"),
    *CURVE_TARGETS,
]

# (what, measured target, reference target, at least): every ratio is measured / reference in
# requests per second, from the same run.
GOALS: list[tuple[str, str, str, float]] = [
    # Issue 16: the server as shipped (access log on) against the bare handler and its peers.
    ("session memory vs ceiling", "session-memory", "ceiling", 0.80),
    ("jwt HS256 vs ceiling", "jwt-hs256", "ceiling", 0.85),
    ("hybrid EdDSA (default) vs ceiling", "hybrid-eddsa", "ceiling", 0.85),
    ("hybrid HS256 vs ceiling", "hybrid-hs256", "ceiling", 0.85),
    ("session Redis + near-cache vs ceiling", "session-redis-near", "ceiling", 0.70),
    ("session memory vs tower-sessions", "session-memory", "tower-sessions", 1.0),
    ("jwt HS256 vs axum + jsonwebtoken", "jwt-hs256", "axum-jsonwebtoken", 1.0),
    ("hybrid HS256 vs axum + jsonwebtoken", "hybrid-hs256", "axum-jsonwebtoken", 1.0),
    ("hybrid EdDSA (default) vs axum + jsonwebtoken", "hybrid-eddsa", "axum-jsonwebtoken", 1.0),
    ("session SQLite vs Express session", "session-sqlite", "express-session", 10.0),
    ("session SQLite vs session memory", "session-sqlite", "session-memory", 0.5),
    # What the access log costs: log on over log off, same run (goal: at most 5 %).
    ("access log cost: session memory", "session-memory", "session-memory-tuned", 0.95),
    ("access log cost: session SQLite", "session-sqlite", "session-sqlite-tuned", 0.95),
    ("access log cost: jwt HS256", "jwt-hs256", "jwt-hs256-tuned", 0.95),
    ("access log cost: hybrid EdDSA", "hybrid-eddsa", "hybrid-eddsa-tuned", 0.95),
    ("session memory vs Express session", "session-memory", "express-session", 10.0),
    ("session Redis + near-cache vs Express connect-redis", "session-redis-near",
     "express-session-redis", 10.0),
    ("session Redis vs Express connect-redis", "session-redis", "express-session-redis", 10.0),
    ("jwt HS256 vs Express jsonwebtoken", "jwt-hs256", "express-jsonwebtoken", 10.0),
    ("hybrid HS256 vs Express jsonwebtoken", "hybrid-hs256", "express-jsonwebtoken", 10.0),
    ("example session vs Express session", "example-session", "express-session", 10.0),
    ("example jwt vs Express jsonwebtoken", "example-jwt", "express-jsonwebtoken", 10.0),
    ("example session vs tower-sessions", "example-session", "tower-sessions", 1.0),
    ("example jwt vs axum + jsonwebtoken", "example-jwt", "axum-jsonwebtoken", 1.0),
    # Issue 11: the library's facade and layer, mounted in an app, against the bare handler.
    ("example hybrid vs ceiling", "example-hybrid", "ceiling", 0.85),
    # Not goals with a bar of their own: how throughput falls as the tokens a node sees grow.
    ("curve: 1,000 distinct tokens vs 1", "tokens-1000", "tokens-1", 0.0),
    ("curve: 10,000 distinct tokens vs 1", "tokens-10000", "tokens-1", 0.0),
    ("curve: 100,000 distinct tokens vs 1", "tokens-100000", "tokens-1", 0.0),
]
