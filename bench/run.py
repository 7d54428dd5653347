"""The load benchmark: every target in bench/targets.py on loopback, driven by wrk.

Run it through bench/run.sh. Builds what it needs (release), installs wrk and the Express peers
if missing, starts every target with the server pinned to core 0 and wrk to core 1, logs in
once per round, and measures rounds of all targets in turn (so a burst of outside load hits one
round of every target, not every run of one). Writes the raw numbers, a Markdown table, an SVG
chart, and prints the goal ratios. `--smoke` is a short run with no thresholds, for CI.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import procs
import report
from targets import NEAR_CACHE_TOML, TARGETS, Target

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
# Where the binaries are: target/release, or target/debug with `--profile dev` (set in main).
BIN_DIR = REPO / "target" / "release"
EXPRESS = BENCH / "peers" / "express"
USER, PASSWORD = "bench", "load-benchmark password 0123456789"
SERVER_CORE, WRK_CORE = "0", "1"
# Ahead of other work on the machine (builds), as far as the scheduler goes: both cores are
# shared with whatever else runs, and the results say how much that was.
NICE = ["nice", "-n", "-10"]


class Unavailable(Exception):
    """This build refuses the target's settings."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(argv, **kw) -> subprocess.CompletedProcess:
    """Runs a setup command; its failure stops the benchmark, loudly."""
    log("$ " + " ".join(str(a) for a in argv))
    return subprocess.run(argv, check=True, **kw)


def ensure_tool(command: str, package: str) -> None:
    if shutil.which(command):
        return
    log(f"{command} is missing: apt-get install -y {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", package], env=env)
    if not shutil.which(command):
        sys.exit(f"bench: {command} still missing after installing {package}")


def build(targets: list[Target], profile: str) -> None:
    kinds = {t.kind for t in targets}
    cargo = ["cargo", "build", "--profile", profile]
    if "server" in kinds:
        run([*cargo, "-p", "cloakroom-server", "--bin", "cloakroom"], cwd=REPO)
    if any(t.tokens for t in targets):
        run([*cargo, "-p", "cloakroom-server", "--example", "mint_tokens"], cwd=REPO)
    examples = sorted({t.spec for t in targets if t.kind == "example"})
    if examples:
        argv = [*cargo, "-p", "cloakroom-axum", "--features", "jwt"]
        for e in examples:
            argv += ["--example", e]
        run(argv, cwd=REPO)
    if "rust" in kinds:
        # Its own workspace, but the main target directory: shared dependencies build once.
        run([*cargo, "--locked", "--manifest-path",
             str(BENCH / "targets" / "Cargo.toml")],
            cwd=REPO, env=dict(os.environ, CARGO_TARGET_DIR=str(REPO / "target")))
    if "node" in kinds:
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXPRESS)


def redis_answers(url: str) -> bool:
    m = re.fullmatch(r"redis://([^:/]+):(\d+)/?", url)
    if not m:
        return False
    try:
        with socket.create_connection((m[1], int(m[2])), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(url: str | None, workdir: Path) -> str:
    """The Redis to use: `url`, else 127.0.0.1:6379 if it answers, else one started here."""
    if url:
        if not redis_answers(url):
            sys.exit(f"bench: no Redis answers at {url}")
        return url
    if redis_answers("redis://127.0.0.1:6379"):
        return "redis://127.0.0.1:6379"
    ensure_tool("redis-server", "redis-server")
    port = procs.free_port()
    proc = procs.start(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                        "--appendonly", "no", "--dir", str(workdir)],
                       log_path=workdir / "redis.log")
    url = f"redis://127.0.0.1:{port}"
    if not procs.wait_for_port(port, proc, 10) or not redis_answers(url):
        sys.exit("bench: redis-server did not start")
    log(f"started redis-server at {url}")
    return url


def server_config(t: Target, port: int, data: Path, redis_url: str) -> str:
    near = os.environ.get("BENCH_NEAR_CACHE", NEAR_CACHE_TOML)
    # Top-level keys before the target's own (which may open tables). The log as shipped
    # (`info`: one access line per request, to the target's log file) unless the target sets
    # `[log]` itself (the `*-tuned` rows turn it off).
    spec = t.spec.format(redis_url=redis_url, near_cache=near)
    return (f'listen = "127.0.0.1:{port}"\ndata_dir = "{data}"\n'
            f'public_url = "http://127.0.0.1:{port}"\ninsecure_fast_hashing_for_tests = true\n'
            + spec)


def first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["(no output)"])[0][:300]


def launch(t: Target, workdir: Path, redis_url: str) -> tuple[subprocess.Popen, int]:
    port = procs.free_port()
    env = dict(os.environ, **t.env)
    cwd = None
    if t.kind == "server":
        data = workdir / t.name
        data.mkdir()
        config = data / "cloakroom.toml"
        config.write_text(server_config(t, port, data, redis_url))
        binary = str(BIN_DIR / "cloakroom")
        add = subprocess.run([binary, "--config", str(config), "user", "add", USER,
                              "--password-stdin"], input=PASSWORD + "\n", text=True,
                             capture_output=True)
        if add.returncode != 0:
            msg = first_error(add.stderr + add.stdout)
            if t.optional:
                raise Unavailable(msg)
            raise RuntimeError(f"{t.name}: user add failed: {msg}")
        if t.tokens:
            # Before the server starts: the first app to open the database makes the key.
            subprocess.run([str(BIN_DIR / "examples" / "mint_tokens"), str(config), USER,
                            str(t.tokens), str(data / "tokens.txt")], check=True,
                           capture_output=True)
        argv = [binary, "--config", str(config), "serve"]
    elif t.kind == "example":
        argv, env["PORT"] = [str(BIN_DIR / "examples" / t.spec)], str(port)
    elif t.kind == "rust":
        argv, env["LISTEN"] = [str(BIN_DIR / t.spec)], f"127.0.0.1:{port}"
    elif t.kind == "node":
        argv, cwd = ["node", t.spec], EXPRESS
        env.update(PORT=str(port), REDIS_URL=redis_url, NODE_ENV="production")
    else:
        raise ValueError(t.kind)
    log_path = workdir / f"{t.name}.log"
    proc = procs.start([*NICE, "taskset", "-c", SERVER_CORE, *argv], log_path=log_path, env=env, cwd=cwd)
    procs.prioritize(proc.pid, int(NICE[-1]))
    if not procs.wait_for_port(port, proc):
        procs.stop(proc)
        msg = first_error(log_path.read_text(errors="replace"))
        if t.optional:
            raise Unavailable(msg)
        raise RuntimeError(f"{t.name} did not start: {msg} (log: {log_path})")
    return proc, port


def authenticate(t: Target, port: int) -> dict[str, str]:
    """Logs in and checks that the credential is what makes the route answer 200."""
    if t.login == "none":
        status, _, body = procs.request(port, "GET", t.path)
        if status != 200:
            raise RuntimeError(f"{t.name}: GET {t.path} answered {status}")
        return {}
    if t.kind == "server":
        body = json.dumps({"username": USER, "password": PASSWORD}).encode()
        hdrs = {"Content-Type": "application/json"}
    else:
        body, hdrs = b"", {"Content-Length": "0"}
    status, res_headers, res_body = procs.request(port, "POST", t.login_path, headers=hdrs,
                                                  body=body)
    if status != 200:
        raise RuntimeError(f"{t.name}: login answered {status}: {res_body[:200]!r}")
    if t.login == "cookie":
        cookies = [v.split(";", 1)[0] for k, v in res_headers if k.lower() == "set-cookie"]
        if not cookies:
            raise RuntimeError(f"{t.name}: login set no cookie")
        auth = {"Cookie": "; ".join(cookies)}
    else:
        data = json.loads(res_body)
        auth = {"Authorization": "Bearer " + (data.get("access_token") or data["token"])}
    status, _, body = procs.request(port, "GET", t.path, headers=auth)
    if status != 200:
        raise RuntimeError(f"{t.name}: GET {t.path} with the credential answered {status}")
    status, _, _ = procs.request(port, "GET", t.path)
    if status != 401:
        raise RuntimeError(f"{t.name}: GET {t.path} without a credential answered {status}")
    if t.tokens:
        minted = tokens_file(t).read_text().split()
        if len(minted) != t.tokens:
            raise RuntimeError(f"{t.name}: {len(minted)} tokens minted, not {t.tokens}")
        for token in (minted[0], minted[-1]):
            status, _, _ = procs.request(port, "GET", t.path,
                                         headers={"Authorization": "Bearer " + token})
            if status != 200:
                raise RuntimeError(f"{t.name}: a minted token answered {status}")
    return auth


WORKDIR: Path | None = None  # set in main: where each server target's data directory is


def tokens_file(t: Target) -> Path:
    assert WORKDIR is not None
    return WORKDIR / t.name / "tokens.txt"


def wrk(port: int, t: Target, auth: dict[str, str], seconds: float, args) -> dict:
    script = "wrk-tokens.lua" if t.tokens else "wrk-report.lua"
    argv = [*NICE, "taskset", "-c", WRK_CORE, "wrk", "-t1", f"-c{args.connections}",
            f"-d{max(1, round(seconds))}s", "--latency", "-s", str(BENCH / script)]
    env = dict(os.environ)
    if t.tokens:
        env["TOKENS_FILE"] = str(tokens_file(t))
    else:
        for k, v in auth.items():
            argv += ["-H", f"{k}: {v}"]
    argv.append(f"http://127.0.0.1:{port}{t.path}")
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"{t.name}: wrk printed no report:\n{out}")
    return json.loads(line.removeprefix("WRK_JSON "))


def measure(t: Target, proc, port, auth, args) -> dict:
    """One measured wrk run, with the CPU the server, wrk and everything else used meanwhile."""
    load = procs.loadavg()
    cpu0, busy0 = procs.process_cpu_seconds(proc.pid), procs.machine_busy_seconds()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.monotonic()
    w = wrk(port, t, auth, args.duration, args)
    wall = time.monotonic() - wall0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = procs.process_cpu_seconds(proc.pid) - cpu0
    busy = procs.machine_busy_seconds() - busy0
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    errors = w["connect_errors"] + w["read_errors"] + w["write_errors"] + w["timeouts"]
    if w["non_2xx"]:
        raise RuntimeError(f"{t.name}: {w['non_2xx']} responses were not 2xx")
    if errors > 0.01 * max(1, w["requests"]):
        raise RuntimeError(f"{t.name}: {errors} socket errors in {w['requests']} requests")
    return {
        "requests": w["requests"],
        "rps": w["requests"] / (w["duration_us"] / 1e6),
        "latency_us": w["latency_us"],
        "socket_errors": errors,
        "server_cpu_cores": server_cpu / wall,
        "server_cpu_us_per_request": server_cpu * 1e6 / max(1, w["requests"]),
        "wrk_cpu_cores": wrk_cpu / wall,
        "other_cpu_cores": max(0.0, (busy - server_cpu - wrk_cpu) / wall),
        "loadavg_before": load,
    }


def summarize(runs: list[dict]) -> dict:
    med = statistics.median
    return {
        "rps": med(r["rps"] for r in runs),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "p50_us": med(r["latency_us"]["p50"] for r in runs),
        "p99_us": med(r["latency_us"]["p99"] for r in runs),
        "server_cpu_us_per_request": med(r["server_cpu_us_per_request"] for r in runs),
        "server_cpu_cores": med(r["server_cpu_cores"] for r in runs),
        "wrk_cpu_cores": med(r["wrk_cpu_cores"] for r in runs),
        "other_cpu_cores": med(r["other_cpu_cores"] for r in runs),
    }


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.+)", lscpu)
    return {"cpu": model[1].strip() if model else "?", "nproc": os.cpu_count(),
            "kernel": platform.release(), "lscpu": lscpu,
            "rustc": subprocess.run(["rustc", "--version"], capture_output=True,
                                    text=True).stdout.strip(),
            "node": subprocess.run(["node", "--version"], capture_output=True,
                                   text=True).stdout.strip(),
            "wrk": (subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
                    or "").splitlines()[0:1]}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="~2 s per target, 1 run, no goals")
    p.add_argument("--runs", type=int, help="measured runs per target (default 5)")
    p.add_argument("--duration", type=float, help="seconds per run (default 10)")
    p.add_argument("--warmup", type=float, help="seconds of warm-up per target (default 5)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--only", help="comma-separated target names (default: all)")
    p.add_argument("--redis-url", help="default: 127.0.0.1:6379 if it answers, else one of ours")
    p.add_argument("--skip-build", action="store_true", help="use what is built already")
    p.add_argument("--profile", choices=["release", "dev"], default="release",
                   help="cargo profile to build and run (dev: for --smoke in CI, where the "
                        "tests have built most of it already; its numbers mean nothing)")
    a = p.parse_args()
    a.runs = a.runs or (1 if a.smoke else 5)
    a.duration = a.duration or (2 if a.smoke else 10)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.smoke else 5)
    return a


def main() -> int:
    args = parse_args()
    targets = TARGETS
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {t.name for t in TARGETS}
        if unknown:
            sys.exit(f"bench: unknown targets {sorted(unknown)}")
        targets = [t for t in TARGETS if t.name in names]
    for command, package in [("wrk", "wrk"), ("taskset", "util-linux"), ("node", "nodejs"),
                             ("npm", "npm"), ("lscpu", "util-linux")]:
        ensure_tool(command, package)
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs 2 cores (server on core 0, wrk on core 1)")
    global BIN_DIR
    BIN_DIR = REPO / "target" / ("debug" if args.profile == "dev" else "release")
    if not args.skip_build:
        build(targets, args.profile)
    # After the build: our own session (wrk, this script) ahead of other work too.
    prioritized = procs.prioritize("self", int(NICE[-1]))
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = Path(tempfile.mkdtemp(prefix="cloakroom-bench-"))
    global WORKDIR
    WORKDIR = workdir
    redis_url = (ensure_redis(args.redis_url, workdir)
                 if any(t.needs_redis for t in targets) else "")
    results: dict[str, dict] = {}
    live = []

    def fail(t: Target, e: Exception) -> None:
        log(f"FAILED {t.name}: {e}")
        results[t.name].update(status="failed", reason=str(e))

    for t in targets:
        results[t.name] = {"status": "ok", "runs": []}
        try:
            proc, port = launch(t, workdir, redis_url)
        except Unavailable as e:
            log(f"{t.name}: not available in this build ({e})")
            results[t.name] = {"status": "not available in this build", "reason": str(e)}
            continue
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            fail(t, e)
            continue
        log(f"{t.name}: listening on {port}")
        live.append((t, proc, port))

    def ok(t: Target) -> bool:
        return results[t.name]["status"] == "ok"

    for t, proc, port in live:  # warm-up: JITs, caches, connection pools
        try:
            auth = authenticate(t, port)
            if args.warmup > 0:
                wrk(port, t, auth, args.warmup, args)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
            fail(t, e)
    for round_no in range(1, args.runs + 1):
        for t, proc, port in live:
            if not ok(t):
                continue
            try:
                if proc.poll() is not None:
                    raise RuntimeError(f"exited (log: {workdir / t.name}.log)")
                auth = authenticate(t, port)  # again each round: tokens expire, sessions idle
                r = measure(t, proc, port, auth, args)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError,
                    KeyError) as e:
                fail(t, e)
                continue
            results[t.name]["runs"].append(r)
            log(f"round {round_no}/{args.runs} {t.name}: {r['rps']:,.0f} req/s, "
                f"p99 {r['latency_us']['p99'] / 1000:.2f} ms, server "
                f"{r['server_cpu_cores']:.2f} cores, other load {r['other_cpu_cores']:.2f}, "
                f"loadavg {r['loadavg_before'][0]:.2f}")
    for t, proc, _ in live:
        procs.stop(proc)
        if ok(t):
            results[t.name]["summary"] = summarize(results[t.name]["runs"])
    doc = {
        "started": started.isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "command": "bench/run.sh " + " ".join(sys.argv[1:]),
        "settings": {"profile": args.profile, "runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup,
                     "connections": args.connections, "wrk_threads": 1,
                     "server_core": SERVER_CORE, "wrk_core": WRK_CORE, "nice": NICE[-1],
                     "autogroup_nice": prioritized, "redis": redis_url},
        "machine": machine(),
        "targets": {t.name: {"label": t.label, "group": t.group, "path": t.path,
                             **results[t.name]} for t in targets},
    }
    report.write_all(doc, targets, REPO, smoke=args.smoke)
    failed = [t.name for t in targets if results[t.name]["status"] == "failed"]
    passed = sum(ok(t) for t in targets)
    skipped = len(targets) - passed - len(failed)
    # Each target is a check: it built, started, refused a request without a credential,
    # answered 200 with one, and took the load without errors.
    print(f"\nbench: {passed} passed, {len(failed)} failed, {skipped} skipped")
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}; logs in {workdir}", file=sys.stderr)
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
