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

cargo +nightly test --workspace --target x86_64-unknown-linux-gnu --lib --bins --tests "$@"
