"""Processes, ports, CPU accounting and HTTP for bench/run.py: everything it starts is stopped
again, on success, failure or Ctrl-C."""

from __future__ import annotations

import atexit
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

_started: list[subprocess.Popen] = []
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, *, log_path, env=None, cwd=None) -> subprocess.Popen:
    """Starts `argv` in its own process group, output to `log_path`; stopped at exit."""
    log = open(log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, start_new_session=True)
    log.close()
    _started.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the process group, SIGKILL after `grace` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if proc in _started:
        _started.remove(proc)


def stop_all() -> None:
    for proc in list(_started):
        stop(proc, grace=2.0)


def _on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGTERM, _on_signal)


def prioritize(pid: int | str, nice: int) -> bool:
    """Sets the nice value of the scheduler autogroup `pid` is in (each session is one, and
    with autogroups a process's own nice value only counts inside its group). Best effort:
    False where the kernel has no autogroups or we may not. Our own session's value is put
    back at exit: it is the caller's shell's too."""
    try:
        if pid == "self":
            before = _autogroup_nice("self")
            if before is None:
                return False
            atexit.register(_set_autogroup_nice, "self", before)
        _set_autogroup_nice(pid, str(nice))
        return True
    except OSError:
        return False


def _autogroup_nice(pid: int | str) -> str | None:
    """The nice value in `/proc/<pid>/autogroup` ("/autogroup-42 nice 0"), or None where the
    file is empty or shaped otherwise (seen on a CI machine: the file existed, empty)."""
    with open(f"/proc/{pid}/autogroup") as f:
        words = f.read().split()
    if len(words) == 3 and words[1] == "nice" and words[2].lstrip("-").isdigit():
        return words[2]
    return None


def _set_autogroup_nice(pid: int | str, nice: str) -> None:
    with open(f"/proc/{pid}/autogroup", "w") as f:
        f.write(nice)


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> bool:
    """True once something accepts on `port`; False if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def request(port: int, method: str, path: str, *, headers=None, body: bytes | None = None):
    """One HTTP/1.1 request: (status, headers as a list of pairs, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.getheaders(), res.read()
    finally:
        conn.close()
