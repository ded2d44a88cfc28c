# Static builds of the project's binaries and of rsbinder-tools, and the dynamic build of the
# conformance suite with the mapper library it dlopens; sourced by vm/run.sh.

RUST_TARGET=x86_64-unknown-linux-gnu
RSBINDER_TOOLS_VERSION=0.12.0
# Where the guest binaries are collected (name in the guest -> host file).
declare -A GUEST_BINARIES=()
# Dynamically linked guest files (path in the guest -> host file): gralloc-vts, the mapper
# library it dlopens, and the ELF interpreter and shared libraries both need.
declare -A GUEST_DYNAMIC=()
# Binaries that did not build, with the reason (the guest reports them missing).
BUILD_FAILURES=()
# Where the guest finds mapper.<suffix>.so (gralloc-vts reads $GRALLOC_MAPPER_DIR).
GUEST_MAPPER_DIR=/lib/gralloc-mapper

vm_target_dir() { printf '%s' "${GRALLOC_VM_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO_DIR/target}}"; }

static_cargo() {
    RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$(vm_target_dir) \
        cargo "$@" --release --target "$RUST_TARGET" -j "$VM_JOBS"
}

# A normal glibc release build (host triple, so its artifacts live in target/release and never
# invalidate the static ones under target/$RUST_TARGET).
dynamic_cargo() {
    CARGO_TARGET_DIR=$(vm_target_dir) cargo "$@" --release -j "$VM_JOBS"
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

# add_guest_dynamic GUEST_PATH FILE: records FILE and what it needs to load: its ELF
# interpreter and every shared library `ldd` resolves, each at the path it has on the host
# (/lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu/libc.so.6 on Debian), where the
# guest's loader finds them without an ld.so.cache. False after recording the failure.
add_guest_dynamic() {
    local guest=$1 file=$2 deps line lib
    if [[ ! -f $file ]]; then
        BUILD_FAILURES+=("${guest##*/}: not built")
        return 1
    fi
    if ! deps=$(ldd "$file" 2>&1) || grep -q 'not found' <<<"$deps"; then
        BUILD_FAILURES+=("${guest##*/}: unresolved shared libraries: ${deps//$'\n'/; }")
        return 1
    fi
    GUEST_DYNAMIC[$guest]=$file
    while read -r line; do
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        lib=${line#*=> }
        lib=${lib%% (*}
        [[ $lib == /* ]] && GUEST_DYNAMIC[$lib]=$(readlink -f "$lib")
    done <<<"$deps"
    return 0
}

# The suite with its mapper area: gralloc-vts and libgralloc_mapper.so, dynamic (a static
# binary cannot dlopen), installed as mapper.<suffix>.so for every board's suffix.
build_suite_with_mapper() {
    local dir logs=$VM_CACHE/logs suffix
    dir=$(vm_target_dir)/release
    log "cargo build (dynamic) -p vts_tests --bin gralloc-vts; -p gralloc_mapper --lib"
    if ! { dynamic_cargo build -p vts_tests --bin gralloc-vts \
        && dynamic_cargo build -p gralloc_mapper --lib; } >"$logs/build-suite-mapper.log" 2>&1; then
        tail -n 20 "$logs/build-suite-mapper.log" >&2
        log "build of gralloc-vts or gralloc_mapper failed (log: $logs/build-suite-mapper.log)"
    fi
    add_guest_dynamic /bin/gralloc-vts "$dir/gralloc-vts" || return 0
    add_guest_dynamic "$GUEST_MAPPER_DIR/libgralloc_mapper.so" "$dir/libgralloc_mapper.so" || return 0
    for suffix in $(sed -n 's/^mapper_suffix *= *"\([A-Za-z0-9_.-]*\)".*/\1/p' \
        "$REPO_DIR"/usage-map/boards/*.toml | sort -u); do
        GUEST_DYNAMIC[$GUEST_MAPPER_DIR/mapper.$suffix.so]=$dir/libgralloc_mapper.so
    done
}

# Builds each package on its own so one broken crate leaves the others testable.
build_project_binaries() {
    local dir logs out package bins bin
    dir=$(vm_target_dir)/$RUST_TARGET/release
    logs=$VM_CACHE/logs
    mkdir -p "$logs"
    for package in allocator_service:gralloc-allocator,gralloc; do
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

    build_suite_with_mapper
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
