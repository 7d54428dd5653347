#!/usr/bin/env bash
# Property-based tests of the live HTTP API against its own OpenAPI document: builds the server,
# then for each mode starts `cloakroom serve` (fresh data directory, free port, cheap hashing),
# adds an admin, signs in, and runs schemathesis with every check it has, signed in.
#
#   scripts/schemathesis.sh                      # all three modes
#   SCHEMATHESIS_MODES="jwt" scripts/schemathesis.sh
#   SCHEMATHESIS_MAX_EXAMPLES=200 scripts/schemathesis.sh
#   SCHEMATHESIS_SEED=123 SCHEMATHESIS_REPORT_DIR=st-report scripts/schemathesis.sh  # HAR of every request
#
# Needs python3 and schemathesis (pip install schemathesis). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

modes="${SCHEMATHESIS_MODES:-session jwt hybrid}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-60}"
seed="${SCHEMATHESIS_SEED:-}"
bin="${CLOAKROOM_BIN:-}"
if [[ -z "$bin" ]]; then
    cargo build -q -p cloakroom-server --bin cloakroom
    bin="$PWD/target/debug/cloakroom"
fi
command -v schemathesis >/dev/null || { echo "schemathesis is not installed" >&2; exit 2; }

password="correct horse battery staple"
scratch="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# Settings come only from here, never from the caller's environment.
for var in $(env | grep -o '^CLOAKROOM_[A-Z_]*' || true); do unset "$var"; done
export CLOAKROOM_INSECURE_FAST_HASHING_FOR_TESTS=true
# schemathesis sends many wrong passwords to /auth/login from one address: with the default
# throttle (5 failures) it would lock itself out, and then its own sign-in. The throttle has its
# own tests (tests/brute_force.rs).
export CLOAKROOM_LOGIN__MAX_FAILURES=1000000

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# schemathesis signs in by itself (and again whenever a request answers 401, e.g. after it
# fuzzed /auth/logout), with the scheme the document names for this mode.
write_config() { # mode file
    local auth
    if [[ "$1" == session ]]; then
        auth='[auth.dynamic.openapi.session_cookie]
extract_from = "cookie"
extract_selector = "cloakroom_session"'
    else
        auth='[auth.dynamic.openapi.bearer]
extract_from = "body"
extract_selector = "/access_token"'
    fi
    cat >"$2" <<TOML
$auth
path = "/auth/login"
method = "post"
payload = { username = "alice", password = "$password" }

# Without a body and without the refresh cookie there is no refresh token to spend: 400
# invalid_request, as RFC 6749 answers a token request that lacks its parameter.
[[operations]]
include-path = "/auth/refresh"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 429]
TOML
}

failed=0
for mode in $modes; do
    dir="$scratch/$mode"
    mkdir -p "$dir"
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    echo "== schemathesis: $mode mode on $base"
    printf '%s\n' "$password" | "$bin" --data-dir "$dir" user add alice --role admin --password-stdin >/dev/null
    "$bin" serve --data-dir "$dir" --listen "127.0.0.1:$port" --mode "$mode" >"$dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('$base/healthz')" 2>/dev/null && break
        sleep 0.1
    done

    write_config "$mode" "$dir/schemathesis.toml"
    # The HTML pages (tag `pages`) are for browsers, not machines: every form needs a CSRF
    # token bound to the session, so generated data would only ever reach the 403, and their
    # errors are HTML. tests/pages.rs tests them.
    args=(--checks all --max-examples "$max_examples" --workers 1 --no-color
          --request-timeout 10 --max-response-time 5 --suppress-health-check all
          --exclude-tag pages)
    if [[ -n "$seed" ]]; then args+=(--seed "$seed"); fi
    if [[ -n "${SCHEMATHESIS_REPORT_DIR:-}" ]]; then
        args+=(--report har --report-dir "$(realpath -m "$SCHEMATHESIS_REPORT_DIR")/$mode")
    fi
    # From the scratch directory, so that its cache (.schemathesis/) stays out of the repository.
    (cd "$dir" && schemathesis --config-file "$dir/schemathesis.toml" run "$base/openapi.json" \
        "${args[@]}") || failed=1

    if ! python3 -c "import urllib.request; urllib.request.urlopen('$base/healthz')"; then
        echo "the server is not healthy after the run" >&2
        failed=1
    fi
    if grep -qiE 'panicked|ERROR' "$dir/server.log"; then
        echo "the server logged errors:" >&2
        grep -iE 'panicked|ERROR' "$dir/server.log" | head -20 >&2
        failed=1
    fi
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
done

if [[ "$failed" != 0 ]]; then
    echo "schemathesis found problems (see above)" >&2
    exit 1
fi
echo "schemathesis: every mode passed"
