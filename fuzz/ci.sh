#!/usr/bin/env bash
# Builds every fuzz target (cargo-fuzz: nightly, AddressSanitizer, debug assertions) and
# runs each for SECONDS (default 20) from the committed seeds plus what it finds on the way
# (kept in a temporary directory, not in corpus/). Fails on the first crash, panic, leak,
# timeout or out-of-memory libFuzzer reports; the input is left in fuzz/artifacts/<target>/.
#
#     fuzz/ci.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$target"
    dict=()
    if [ -f "dict/$target.dict" ]; then
        dict=("-dict=dict/$target.dict")
    fi
    log="$work/$target.log"
    if cargo +nightly fuzz run "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
        printf '%-18s ok: %s execs, %s exec/s, %s\n' "$target" "$execs" "$speed" \
            "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)"
    else
        failed=1
        echo "$target: FAILED (input in fuzz/artifacts/$target/); libFuzzer's output:" >&2
        tail -n 60 "$log" >&2
    fi
done
exit "$failed"
