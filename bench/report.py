"""bench/run.py's outputs: the raw JSON, a Markdown table, an SVG bar chart, the goal ratios."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path

from targets import GOALS

COLORS = {"ceiling": "#6b7280", "cloakroom": "#2563eb", "cloakroom-tuned": "#93c5fd",
          "token-curve": "#7c3aed", "example": "#60a5fa", "rust-peer": "#d97706",
          "express-peer": "#16a34a"}
GROUP_NAMES = {"ceiling": "ceiling", "cloakroom": "Cloakroom (log on, as shipped)",
               "cloakroom-tuned": "Cloakroom, log off (tuned)",
               "token-curve": "N distinct tokens",
               "example": "Cloakroom examples", "rust-peer": "Rust peers",
               "express-peer": "Express peers"}


def rps_of(doc: dict, name: str) -> float | None:
    t = doc["targets"].get(name)
    if not t or t.get("status") != "ok":
        return None
    return t["summary"]["rps"]


def cpu_of(doc: dict, name: str) -> float:
    return doc["targets"][name]["summary"]["server_cpu_us_per_request"]


def goal_rows(doc: dict) -> list[dict]:
    """Each goal, judged on requests per second; `cpu_ratio` is the same ratio computed from
    the server CPU time per request, which other load on the machine disturbs less."""
    rows = []
    for what, measured, reference, least in GOALS:
        a, b = rps_of(doc, measured), rps_of(doc, reference)
        if a is None or b is None:
            missing = measured if a is None else reference
            status = doc["targets"].get(missing, {}).get("status", "not run")
            rows.append({"goal": what, "least": least, "ratio": None, "cpu_ratio": None,
                         "verdict": f"n/a ({missing}: {status})"})
            continue
        ratio = a / b
        rows.append({"goal": what, "least": least, "ratio": ratio,
                     "cpu_ratio": cpu_of(doc, reference) / cpu_of(doc, measured),
                     # A bar of 0 is a measurement to report, not a goal to judge.
                     "verdict": "—" if least == 0 else "PASS" if ratio >= least else "MISS"})
    return rows


def fmt_ratio(r: float, least: float) -> str:
    """Shares of the ceiling in percent, multiples of a peer as ×."""
    # Rounded down, so that a ratio shown as reaching its goal does.
    return f"{math.floor(r * 100):.0f} %" if least < 1 else f"{math.floor(r * 100) / 100:.2f}×"


def markdown(doc: dict, targets) -> str:
    ceiling = rps_of(doc, "ceiling")
    lines = [
        "| target | req/s (median) | min–max | p50 | p99 | server CPU per request | "
        "server CPU | wrk CPU | vs ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        r = doc["targets"][t.name]
        if r["status"] != "ok":
            lines.append(f"| {t.label} | {r['status']} | | | | | | | |")
            continue
        s = r["summary"]
        vs = f"{s['rps'] / ceiling * 100:.0f} %" if ceiling else ""
        lines.append(
            f"| {t.label} | {s['rps']:,.0f} | {s['rps_min']:,.0f}–{s['rps_max']:,.0f} | "
            f"{s['p50_us'] / 1000:.2f} ms | {s['p99_us'] / 1000:.2f} ms | "
            f"{s['server_cpu_us_per_request']:.1f} µs | {s['server_cpu_cores']:.2f} | "
            f"{s['wrk_cpu_cores']:.2f} | {vs} |")
    lines += ["", "| goal | at least | measured (req/s) | verdict | same ratio by CPU per request |",
              "|---|---:|---:|---|---:|"]
    for g in goal_rows(doc):
        measured = fmt_ratio(g["ratio"], g["least"]) if g["ratio"] is not None else "—"
        by_cpu = fmt_ratio(g["cpu_ratio"], g["least"]) if g["cpu_ratio"] is not None else "—"
        bar = fmt_ratio(g['least'], g['least']) if g['least'] else "—"
        lines.append(f"| {g['goal']} | {bar} | {measured} | "
                     f"{g['verdict']} | {by_cpu} |")
    loads = [run["loadavg_before"][0] for r in doc["targets"].values()
             for run in r.get("runs", [])]
    others = [run["other_cpu_cores"] for r in doc["targets"].values() for run in r.get("runs", [])]
    s = doc["settings"]
    dev = " (a dev build: its numbers mean nothing)" if s.get("profile") == "dev" else ""
    lines += ["", f"Run {doc['started']}{dev}: `{doc['command'].strip()}`; {s['runs']} × {s['duration_s']:g} s "
              f"per target after {s['warmup_s']:g} s of warm-up, wrk -t1 -c{s['connections']}; "
              f"server on core {s['server_core']}, wrk on core {s['wrk_core']}; "
              f"{doc['machine']['cpu']}, {doc['machine']['nproc']} CPUs, Linux "
              f"{doc['machine']['kernel']}."]
    if loads:
        lines[-1] += (f" 1-minute load average before each run: {min(loads):.2f}–{max(loads):.2f};"
                      f" CPU used by other processes during runs: {min(others):.2f}–"
                      f"{max(others):.2f} cores (median {sorted(others)[len(others) // 2]:.2f}).")
    return "\n".join(lines) + "\n"


def svg(doc: dict, targets) -> str:
    rows = [(t, doc["targets"][t.name]) for t in targets]
    best = max((r["summary"]["rps"] for _, r in rows if r["status"] == "ok"), default=1.0)
    left, bar_w, row_h, top = 330, 430, 24, 56
    height = top + row_h * len(rows) + 60
    width = left + bar_w + 150
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">"Who am I" for a signed-in '
           f'caller: requests per second (median of {doc["settings"]["runs"]})</text>',
           f'<text x="10" y="40" fill="#555">{escape(doc["machine"]["cpu"])}, server on one core, '
           f'wrk on the other; {escape(doc["started"])}{" (smoke run)" if doc["smoke"] else ""}'
           '</text>']
    step = nice_step(best)
    x = 0.0
    while x <= best * 1.0001:
        px = left + bar_w * x / best
        out.append(f'<line x1="{px:.1f}" y1="{top - 4}" x2="{px:.1f}" '
                   f'y2="{top + row_h * len(rows)}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{px:.1f}" y="{top + row_h * len(rows) + 16}" '
                   f'text-anchor="middle" fill="#555">{x / 1000:g}k</text>')
        x += step
    for i, (t, r) in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(t.label)}</text>')
        if r["status"] != "ok":
            out.append(f'<text x="{left + 4}" y="{y + 16}" fill="#999">{escape(r["status"])}</text>')
            continue
        s = r["summary"]
        w = bar_w * s["rps"] / best
        out.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                   f'fill="{COLORS[t.group]}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 16}">{s["rps"]:,.0f} '
                   f'<tspan fill="#555">(p99 {s["p99_us"] / 1000:.2f} ms)</tspan></text>')
    lx = 10
    ly = top + row_h * len(rows) + 40
    for group, name in GROUP_NAMES.items():
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLORS[group]}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly}">{escape(name)}</text>')
        lx += 30 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def nice_step(top: float) -> float:
    raw = top / 5
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def write_all(doc: dict, targets, repo: Path, *, smoke: bool) -> None:
    stamp = doc["started"].replace(":", "").replace("+0000", "Z")[:15] + "Z"
    if smoke:
        out_dir = repo / "bench" / "results" / "raw"
        json_path = out_dir / f"smoke-{stamp}.json"
        md_path, svg_path = out_dir / "load-smoke.md", out_dir / "throughput-smoke.svg"
    else:
        out_dir = repo / "docs" / "bench"
        json_path = repo / "bench" / "results" / f"{stamp}.json"
        md_path, svg_path = out_dir / "load.md", out_dir / "throughput.svg"
    for p in (json_path, md_path, svg_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    md_path.write_text(markdown(doc, targets))
    svg_path.write_text(svg(doc, targets))
    print()
    print(markdown(doc, targets))
    print(f"raw numbers: {json_path.relative_to(repo)}")
    print(f"table: {md_path.relative_to(repo)}; chart: {svg_path.relative_to(repo)}")
    print()
    print("Goal ratios (requests per second, same run)" +
          (" — smoke run: printed, not judged" if smoke else "") + ":")
    for g in goal_rows(doc):
        measured = fmt_ratio(g["ratio"], g["least"]) if g["ratio"] is not None else "—"
        verdict = "(smoke)" if smoke and g["ratio"] is not None else g["verdict"]
        by_cpu = (f"  [by CPU per request: {fmt_ratio(g['cpu_ratio'], g['least'])}]"
                  if g["cpu_ratio"] is not None else "")
        bar = f"(≥ {fmt_ratio(g['least'], g['least'])})" if g["least"] else "(measured)"
        print(f"  {g['goal']:<52} {measured:>7}  {bar}"
              f"  {verdict}{by_cpu}")
