#!/usr/bin/env bash
# The load benchmark (see docs/PERFORMANCE.md, "Load"): builds every target in release mode,
# runs them on loopback under wrk, writes bench/results/<date>.json, docs/bench/load.md and
# docs/bench/throughput.svg, and prints the goal ratios. `--smoke`: a short run, no goals, for
# CI. `--help` for the rest. Needs Python 3.11 (stdlib only); installs wrk and node if missing.
set -euo pipefail
cd "$(dirname "$0")"
exec python3 -u run.py "$@"
