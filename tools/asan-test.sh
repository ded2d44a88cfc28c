#!/usr/bin/env bash
# The workspace's tests under AddressSanitizer (reliability I4): nightly rustc with
# -Zsanitizer=address on every crate built for the target (build scripts and proc macros,
# built for the host, stay plain: that is why --target is given), LeakSanitizer on, the
# first report fatal. Daemons the tests start are the same instrumented binaries.
# Doc tests are left out (rustdoc would need its own sanitizer set-up).
#
#     tools/asan-test.sh [extra cargo test arguments]
#
# Separate target directory (target/asan), so the normal build stays as it is. A
# suppression goes in tools/asan-suppressions.txt, with the reason beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi

suppressions="$PWD/tools/asan-suppressions.txt"
export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
if [ -f "$suppressions" ]; then
    export LSAN_OPTIONS="suppressions=$suppressions:print_suppressions=0"
fi
export CARGO_TARGET_DIR="$PWD/target/asan"

target=x86_64-unknown-linux-gnu
# Test files that build the daemon (or the mapper) again with a nested `cargo build` into
# the directory they run from: under --target that build gets the sanitizer flags for its
# proc macros too and fails, so they are left out here (they run in `cargo test`).
nested_build="cli_lock cross_process fd_leaks through_c_abi against_host_service cases_can_fail mapper_cases_can_fail"
tests=()
for file in */tests/*.rs; do
    name=$(basename "$file" .rs)
    if [[ " $nested_build " == *" $name "* ]]; then
        echo "SKIP: $file: its nested cargo build cannot take --target"
    else
        tests+=(--test "$name")
    fi
done

# The mapper's cdylib, which the daemon tests load, lands in the profile directory only
# when the library is built on its own.
cargo +nightly build --workspace --target "$target" --lib
cargo +nightly test --workspace --target "$target" --lib --bins "${tests[@]}" --no-fail-fast "$@"
