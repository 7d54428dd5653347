#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for a bounded time (default 60 s each).
#
#   scripts/fuzz.sh              # every target, 60 s each
#   scripts/fuzz.sh 300          # every target, 5 minutes each
#   scripts/fuzz.sh 60 settings  # one target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On the stable toolchain, RUSTC_BOOTSTRAP=1 lets
# rustc take the nightly-only flags cargo-fuzz passes (-Z sanitizer, coverage passes). A crash
# is kept in fuzz/artifacts/TARGET/ and the script exits non-zero; turn it into a regression
# test in the normal test suite before fixing it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo fuzz list)
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 2; }

export RUSTC_BOOTSTRAP=1
# ASan finds memory errors in the unsafe code of dependencies; FUZZ_SANITIZER=none is faster.
sanitizer="${FUZZ_SANITIZER:-address}"
cargo fuzz build -O -s "$sanitizer"

failed=0
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    mkdir -p "corpus/$target"
    seeds=()
    if [[ -d "seeds/$target" ]]; then seeds=("seeds/$target"); fi
    if ! cargo fuzz run -O -s "$sanitizer" "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1; then
        echo "!! $target found a crash: see fuzz/artifacts/$target/" >&2
        failed=1
    fi
done
exit "$failed"
