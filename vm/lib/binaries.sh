# The guest programs per architecture; sourced by vm/run.sh. x86_64: static builds of the
# project's binaries and of rsbinder-tools, and the dynamic build of the conformance suite
# with the mapper library it dlopens. aarch64: one dynamic cross build of everything (with
# Debian's rustc-web, since rustup has no arm64 std here), with the aarch64 loader and libraries.

RUST_TARGET=x86_64-unknown-linux-gnu
CROSS_TARGET=aarch64-unknown-linux-gnu
# Where Debian's cross glibc keeps the aarch64 loader and shared libraries.
CROSS_LIBS=/usr/aarch64-linux-gnu/lib
RSBINDER_TOOLS_VERSION=0.12.0
# Where the guest binaries are collected ("ARCH:name in the guest" -> host file).
declare -A GUEST_BINARIES=()
# Dynamically linked guest files ("ARCH:path in the guest" -> host file): gralloc-vts, the
# mapper library it dlopens, and the ELF interpreter and shared libraries both need (on
# aarch64 every guest program).
declare -A GUEST_DYNAMIC=()
# Binaries that did not build, with the reason (the guest reports them missing).
BUILD_FAILURES=()
# Where the guest finds mapper.<suffix>.so (gralloc-vts reads $GRALLOC_MAPPER_DIR).
GUEST_MAPPER_DIR=/lib/gralloc-mapper

vm_target_dir() { printf '%s' "${GRALLOC_VM_TARGET_DIR:-${CARGO_TARGET_DIR:-$REPO_DIR/target}}"; }
# The cross builds have a target dir of their own: another cargo and rustc (rustc-web) build
# them, and their host-side build scripts must not churn the native build's.
cross_target_dir() { printf '%s/cross-aarch64' "$(vm_target_dir)"; }

# guest_arch KERNEL: the guest's Rust architecture (x86_64 or aarch64).
guest_arch() { if [[ $(kernel_arch "$1") == arm64 ]]; then echo aarch64; else echo x86_64; fi; }

static_cargo() {
    RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR=$(vm_target_dir) \
        cargo "$@" --release --target "$RUST_TARGET" -j "$VM_JOBS"
}

# A normal glibc release build (host triple, so its artifacts live in target/release and never
# invalidate the static ones under target/$RUST_TARGET).
dynamic_cargo() {
    CARGO_TARGET_DIR=$(vm_target_dir) cargo "$@" --release -j "$VM_JOBS"
}

# Debian's cargo-web and rustc-web, cross linking with aarch64-linux-gnu-gcc.
cross_cargo() {
    env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
        CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        CARGO_TARGET_DIR="${CROSS_CARGO_TARGET_DIR:-$(cross_target_dir)}" \
        /usr/bin/cargo "$@" --target "$CROSS_TARGET" -j "$VM_JOBS"
}

# add_guest_binary NAME FILE: records FILE (x86_64) for the initramfs when it exists and is
# static.
add_guest_binary() {
    local name=$1 file=$2
    if [[ ! -x $file ]]; then
        BUILD_FAILURES+=("x86_64 $name: not built")
    elif ! is_static "$file"; then
        BUILD_FAILURES+=("x86_64 $name: $file is dynamically linked")
    else
        GUEST_BINARIES[x86_64:$name]=$file
    fi
}

# add_cross_dynamic GUEST_PATH FILE: records an aarch64 FILE with its ELF interpreter and the
# shared libraries it needs, found by name in $CROSS_LIBS (ldd cannot run a foreign binary)
# and put in the guest's /lib/aarch64-linux-gnu, where Debian's loader looks first. False after
# recording the failure.
add_cross_dynamic() {
    local guest=$1 file=$2 interp lib host
    if [[ ! -f $file ]]; then
        BUILD_FAILURES+=("aarch64 ${guest##*/}: not built")
        return 1
    fi
    readelf -h "$file" 2>/dev/null | grep -q 'AArch64' \
        || { BUILD_FAILURES+=("aarch64 ${guest##*/}: $file is not an AArch64 ELF"); return 1; }
    GUEST_DYNAMIC[aarch64:$guest]=$file
    interp=$(readelf -l "$file" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    if [[ -n $interp ]]; then
        host=$CROSS_LIBS/${interp##*/}
        [[ -f $host ]] || { BUILD_FAILURES+=("aarch64 ${guest##*/}: no $host"); return 1; }
        GUEST_DYNAMIC[aarch64:$interp]=$(readlink -f "$host")
    fi
    for lib in $(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [[ -n ${GUEST_DYNAMIC[aarch64:/lib/aarch64-linux-gnu/$lib]:-} ]] && continue
        host=$CROSS_LIBS/$lib
        [[ -f $host ]] || { BUILD_FAILURES+=("aarch64 ${guest##*/}: needs $lib, not in $CROSS_LIBS"); return 1; }
        add_cross_dynamic "/lib/aarch64-linux-gnu/$lib" "$(readlink -f "$host")" || return 1
    done
    return 0
}

# add_guest_dynamic GUEST_PATH FILE: records FILE and what it needs to load: its ELF
# interpreter and every shared library `ldd` resolves, each at the path it has on the host
# (/lib64/ld-linux-x86-64.so.2, /lib/x86_64-linux-gnu/libc.so.6 on Debian), where the
# guest's loader finds them without an ld.so.cache. False after recording the failure.
add_guest_dynamic() {
    local guest=$1 file=$2 deps line lib
    if [[ ! -f $file ]]; then
        BUILD_FAILURES+=("x86_64 ${guest##*/}: not built")
        return 1
    fi
    if ! deps=$(ldd "$file" 2>&1) || grep -q 'not found' <<<"$deps"; then
        BUILD_FAILURES+=("x86_64 ${guest##*/}: unresolved shared libraries: ${deps//$'\n'/; }")
        return 1
    fi
    GUEST_DYNAMIC[x86_64:$guest]=$file
    while read -r line; do
        # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        lib=${line#*=> }
        lib=${lib%% (*}
        [[ $lib == /* ]] && GUEST_DYNAMIC[x86_64:$lib]=$(readlink -f "$lib")
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
    add_mapper_suffixes x86_64 "$dir/libgralloc_mapper.so"
}

# add_mapper_suffixes ARCH LIBRARY: the mapper as mapper.<suffix>.so for every board's suffix.
add_mapper_suffixes() {
    local suffix
    for suffix in $(sed -n 's/^mapper_suffix *= *"\([A-Za-z0-9_.-]*\)".*/\1/p' \
        "$REPO_DIR"/usage-map/boards/*.toml | sort -u); do
        GUEST_DYNAMIC[$1:$GUEST_MAPPER_DIR/mapper.$suffix.so]=$2
    done
}

# test_executable JSON NAME KIND: the executable cargo's JSON messages name for a test target.
test_executable() {
    grep '"reason":"compiler-artifact"' "$1" | grep "\"kind\":\[\"$3\"\]" \
        | grep "\"name\":\"$2\"" | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}

# build_guest_programs ARCH: every program the guest of that architecture runs.
build_guest_programs() {
    case $1 in
        x86_64) build_project_binaries && install_rsbinder_tools ;;
        aarch64) build_cross_programs && install_cross_rsbinder_tools ;;
        *) die "no guest programs for $1" ;;
    esac
}

# The aarch64 guest's programs: one dynamic release build (the suite must dlopen the mapper,
# and one build instead of a static and a dynamic one halves the cross compile time).
build_cross_programs() {
    local dir logs=$VM_CACHE/logs out name
    dir=$(cross_target_dir)/$CROSS_TARGET/release
    mkdir -p "$logs"
    log "cargo build (aarch64) -p allocator_service -p vts_tests -p gralloc_mapper; test --no-run -p heaps"
    out=$logs/build-aarch64-heaps-real-kernel.json
    if ! { cross_cargo build --release -p allocator_service --bin gralloc-allocator --bin gralloc \
        -p vts_tests --bin gralloc-vts -p gralloc_mapper --lib \
        && cross_cargo test --release -p heaps --lib --test real_kernel --no-run \
            --message-format=json >"$out"; } >"$logs/build-aarch64.log" 2>&1; then
        tail -n 20 "$logs/build-aarch64.log" >&2
        log "aarch64 build failed (log: $logs/build-aarch64.log)"
    fi
    for name in gralloc-allocator gralloc gralloc-vts; do
        add_cross_dynamic "/bin/$name" "$dir/$name"
    done
    add_cross_dynamic /bin/heaps-real-kernel "$(test_executable "$out" real_kernel test)"
    add_cross_dynamic /bin/heaps-unit "$(test_executable "$out" heaps lib)"
    add_cross_dynamic "$GUEST_MAPPER_DIR/libgralloc_mapper.so" "$dir/libgralloc_mapper.so" \
        && add_mapper_suffixes aarch64 "$dir/libgralloc_mapper.so"
    return 0
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
        exe=$(test_executable "$out" real_kernel test)
        unit=$(test_executable "$out" heaps lib)
        add_guest_binary heaps-real-kernel "${exe:-/nonexistent}"
        add_guest_binary heaps-unit "${unit:-/nonexistent}"
    else
        tail -n 20 "$logs/build-heaps-real-kernel.log" >&2
        BUILD_FAILURES+=("x86_64 heaps-real-kernel: cargo test --no-run failed")
        BUILD_FAILURES+=("x86_64 heaps-unit: cargo test --no-run failed")
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

# rsb_hub and rsb_service for aarch64, built (dynamic, like the other aarch64 programs) once
# per version into the cache.
install_cross_rsbinder_tools() {
    local root=$VM_CACHE/tools/rsbinder-tools-$RSBINDER_TOOLS_VERSION-aarch64 name
    if [[ ! -x $root/bin/rsb_hub || ! -x $root/bin/rsb_service ]]; then
        log "cargo install rsbinder-tools $RSBINDER_TOOLS_VERSION (aarch64)"
        mkdir -p "$VM_CACHE/logs"
        CROSS_CARGO_TARGET_DIR=$VM_CACHE/tools/target-aarch64 cross_cargo install rsbinder-tools \
            --version "=$RSBINDER_TOOLS_VERSION" --locked --root "$root" \
            >"$VM_CACHE/logs/install-rsbinder-tools-aarch64.log" 2>&1 \
            || { tail -n 20 "$VM_CACHE/logs/install-rsbinder-tools-aarch64.log" >&2; log "rsbinder-tools (aarch64) install failed"; }
        rm -rf "$VM_CACHE/tools/target-aarch64"
    fi
    for name in rsb_hub rsb_service; do
        add_cross_dynamic "/bin/$name" "$root/bin/$name"
    done
    return 0
}
