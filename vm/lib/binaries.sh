# Static builds of the project's binaries and of rsbinder-tools; sourced by vm/run.sh.

RUST_TARGET=x86_64-unknown-linux-gnu
RSBINDER_TOOLS_VERSION=0.12.0
# Where the guest binaries are collected (name in the guest -> host file).
declare -A GUEST_BINARIES=()
# Binaries that did not build, with the reason (the guest reports them missing).
BUILD_FAILURES=()

vm_target_dir() { printf '%s' "${GRALLOC_VM_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO_DIR/target}}"; }

static_cargo() {
    RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$(vm_target_dir) \
        cargo "$@" --release --target "$RUST_TARGET" -j "$VM_JOBS"
}

# add_guest_binary NAME FILE: records FILE for the initramfs when it exists and is static.
add_guest_binary() {
    local name=$1 file=$2
    if [[ ! -x $file ]]; then
        BUILD_FAILURES+=("$name: not built")
    elif ! is_static "$file"; then
        BUILD_FAILURES+=("$name: $file is dynamically linked")
    else
        GUEST_BINARIES[$name]=$file
    fi
}

# Builds each package on its own so one broken crate leaves the others testable.
build_project_binaries() {
    local dir logs out package bins bin
    dir=$(vm_target_dir)/$RUST_TARGET/release
    logs=$VM_CACHE/logs
    mkdir -p "$logs"
    for package in allocator_service:gralloc-allocator,gralloc vts_tests:gralloc-vts; do
        bins=${package#*:}
        package=${package%%:*}
        log "cargo build (static) -p $package --bin ${bins//,/ --bin }"
        # shellcheck disable=SC2046 # one --bin per name
        if ! static_cargo build -p "$package" $(printf -- '--bin %s ' ${bins//,/ }) \
            >"$logs/build-$package.log" 2>&1; then
            tail -n 20 "$logs/build-$package.log" >&2
            log "build of $package failed (log: $logs/build-$package.log)"
        fi
        for bin in ${bins//,/ }; do
            add_guest_binary "$bin" "$dir/$bin"
        done
    done

    # The real-kernel tests: tests/real_kernel.rs and the unit tests of the heaps library
    # that need a device (both #[ignore]d on hosts, run with --ignored in the guest).
    log "cargo test --no-run (static) -p heaps --lib --test real_kernel"
    out=$logs/build-heaps-real-kernel.json
    if static_cargo test -p heaps --lib --test real_kernel --no-run --message-format=json \
        >"$out" 2>"$logs/build-heaps-real-kernel.log"; then
        local exe unit
        exe=$(grep '"reason":"compiler-artifact"' "$out" | grep '"name":"real_kernel"' \
            | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
        unit=$(grep '"reason":"compiler-artifact"' "$out" | grep '"kind":\["lib"\]' \
            | grep '"name":"heaps"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
        add_guest_binary heaps-real-kernel "${exe:-/nonexistent}"
        add_guest_binary heaps-unit "${unit:-/nonexistent}"
    else
        tail -n 20 "$logs/build-heaps-real-kernel.log" >&2
        BUILD_FAILURES+=("heaps-real-kernel: cargo test --no-run failed")
        BUILD_FAILURES+=("heaps-unit: cargo test --no-run failed")
    fi
}

# rsb_hub and rsb_service, built static once per version into the cache.
install_rsbinder_tools() {
    local root=$VM_CACHE/tools/rsbinder-tools-$RSBINDER_TOOLS_VERSION
    if [[ ! -x $root/bin/rsb_hub || ! -x $root/bin/rsb_service ]]; then
        log "cargo install rsbinder-tools $RSBINDER_TOOLS_VERSION (static)"
        mkdir -p "$VM_CACHE/logs"
        RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$VM_CACHE/tools/target \
            cargo install rsbinder-tools --version "=$RSBINDER_TOOLS_VERSION" --locked \
            --root "$root" --target "$RUST_TARGET" -j "$VM_JOBS" \
            >"$VM_CACHE/logs/install-rsbinder-tools.log" 2>&1 \
            || { tail -n 20 "$VM_CACHE/logs/install-rsbinder-tools.log" >&2; log "rsbinder-tools install failed"; }
        rm -rf "$VM_CACHE/tools/target"
    fi
    add_guest_binary rsb_hub "$root/bin/rsb_hub"
    add_guest_binary rsb_service "$root/bin/rsb_service"
}
