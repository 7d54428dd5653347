#!/usr/bin/env bash
# Instructions and allocations per request, counted by callgrind: repeatable whatever else the
# machine is doing, unlike wall-clock throughput. Runs one target under valgrind, drives it with
# wrk for 3 s of warm-up (not counted) and 8 s counted, and prints the counts per request.
#
#   bench/callgrind.sh ceiling                     # the bare axum handler
#   bench/callgrind.sh server 'mode = "jwt"' 'algorithm = "HS256"'   # cloakroom serve; the
#                                                  # second argument goes under [jwt]
#   KEEP=/tmp/cg.out bench/callgrind.sh ...        # keep the dump for callgrind_annotate
#   LOG=warn bench/callgrind.sh server ...         # the access log off (tuned); the default is
#                                                  # LOG=info, the server as shipped
#
# The counts are of every thread: the access log's writer thread is counted too. The keys'
# reload (every 10 s by default) is put off to an hour: it ran in some windows and not in
# others, and moved the count by ~800 instructions a request.
#
# Needs release builds (bench/run.sh --only ... builds them) and valgrind. SHA-256 is reported
# apart: valgrind hides the CPU's SHA instructions, so sha2 falls back to its portable code,
# which costs ~20x more than on the real CPU.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/../target/release"
kind=${1:?ceiling or server}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'kill -9 "$vg" 2>/dev/null || true; rm -rf "$work"' EXIT
auth=()
if [[ $kind == ceiling ]]; then
  path=/me
  LISTEN=127.0.0.1:$port valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$bin/bench-ceiling" >"$work/log" 2>&1 &
  vg=$!
else
  path=/auth/me
  printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s"\npublic_url = "http://127.0.0.1:%s"\ninsecure_fast_hashing_for_tests = true\n%s\n[jwt]\n%s\nreload_interval = "1h"\n[log]\nfilter = "%s"\n' \
    "$port" "$work" "$port" "${2:-}" "${3:-}" "${LOG:-info}" >"$work/c.toml"
  echo benchbench12 | "$bin/cloakroom" --config "$work/c.toml" user add bench --password-stdin >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$bin/cloakroom" --config "$work/c.toml" serve >"$work/log" 2>&1 &
  vg=$!
fi
for _ in $(seq 300); do curl -s -o /dev/null "127.0.0.1:$port/healthz" && break; sleep 0.2; done
if [[ $kind != ceiling ]]; then
  login=$(curl -s -D "$work/h" -X POST "127.0.0.1:$port/auth/login" \
    -H 'content-type: application/json' -d '{"username":"bench","password":"benchbench12"}')
  token=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get("access_token") or d.get("token") or "")' "$login")
  if [[ -n $token ]]; then auth=(-H "Authorization: Bearer $token")
  else auth=(-H "Cookie: $(grep -i '^set-cookie' "$work/h" | head -1 | sed 's/^[^:]*: //; s/;.*//')")
  fi
fi
[[ $(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "127.0.0.1:$port$path") == 200 ]] \
  || { echo "callgrind: $path did not answer 200" >&2; exit 1; }
wrk -t1 -c8 -d3s "${auth[@]}" "http://127.0.0.1:$port$path" >/dev/null
callgrind_control -z "$vg" >/dev/null
requests=$(wrk -t1 -c8 -d8s "${auth[@]}" "http://127.0.0.1:$port$path" | awk '/requests in/{print $1}')
# The access log is written up to half a second later, by its own thread: counted too.
sleep 1
callgrind_control -d "$vg" >/dev/null
python3 "$here/callgrind_report.py" "$work/cg.out.1" "$requests"
# KEEP=path keeps the dump, for callgrind_annotate.
if [[ -n ${KEEP:-} ]]; then cp "$work/cg.out.1" "$KEEP"; fi
