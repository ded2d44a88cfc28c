# Host packages the harness needs; sourced by vm/run.sh.

# Debian packages and a command each provides (the command tells whether it is installed).
HOST_PACKAGES=(
    qemu-system-x86:qemu-system-x86_64 busybox-static:busybox cpio:cpio xz-utils:xz
    gcc:gcc make:make flex:flex bison:bison bc:bc libelf-dev:/usr/include/libelf.h
    libssl-dev:/usr/include/openssl/ssl.h dpkg-dev:dpkg-deb binutils:readelf
    util-linux:flock gzip:gzip libc-bin:ldd
)
# What an arm64 kernel adds: qemu-system-aarch64, the cross gcc (kernel and Rust linker) with
# the aarch64 glibc, and Debian's rustc-web/cargo-web with the aarch64 std (rustup has no
# arm64 target here; the :arm64 package needs the foreign architecture).
ARM64_PACKAGES=(
    qemu-system-arm:qemu-system-aarch64 gcc-aarch64-linux-gnu:aarch64-linux-gnu-gcc
    libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/lib/libc.so.6 rustc-web:/usr/bin/rustc
    cargo-web:/usr/bin/cargo libstd-rust-web-dev:arm64:/usr/lib/rustlib/aarch64-unknown-linux-gnu
)

# host_deps KERNEL...: installs what building and booting these kernels needs.
host_deps() {
    local entry package probe missing=() wanted=("${HOST_PACKAGES[@]}") kernel
    for kernel in "$@"; do
        [[ $(kernel_arch "$kernel") == arm64 ]] && { wanted+=("${ARM64_PACKAGES[@]}"); break; }
    done
    for entry in "${wanted[@]}"; do
        # package[:arch]:probe (a probe is a command or an absolute path).
        probe=${entry##*:}
        package=${entry%:*}
        if [[ $probe == /* ]]; then
            [[ -e $probe ]] && continue
        else
            command -v "$probe" >/dev/null && continue
        fi
        missing+=("$package")
    done
    # busybox-static, not the dynamic busybox: the initramfs has no loader.
    if command -v busybox >/dev/null && ! is_static "$(command -v busybox)"; then
        missing+=(busybox-static)
    fi
    ((${#missing[@]} == 0)) && return 0
    log "installing host packages: ${missing[*]}"
    if [[ " ${missing[*]}" == *:arm64* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        as_root dpkg --add-architecture arm64
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# True when the ELF file needs no program interpreter (static or static-pie).
is_static() {
    readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter' && return 1
    readelf -h "$1" >/dev/null 2>&1
}

# arm64_busybox: a static aarch64 busybox, unpacked once into the cache from Debian's
# busybox-static:arm64 (downloaded, not installed: it would replace the host's busybox).
arm64_busybox() {
    local tools=$VM_CACHE/tools out tmp deb
    out=$tools/busybox-static-arm64
    [[ -x $out ]] && { printf '%s' "$out"; return 0; }
    tmp=$(mktemp -d "$VM_CACHE/busybox.XXXXXX")
    # `apt-get download` as root warns about the _apt sandbox user: harmless.
    (cd "$tmp" && apt-get download -qq busybox-static:arm64 2>&1 | grep -v '_apt' >&2) || true
    deb=$(compgen -G "$tmp/busybox-static_*_arm64.deb" | head -n 1) \
        || die "download of busybox-static:arm64 failed"
    dpkg-deb -x "$deb" "$tmp/root"
    mkdir -p "$tools"
    cp "$tmp/root/bin/busybox" "$out.tmp" && mv "$out.tmp" "$out"
    rm -rf "$tmp"
    is_static "$out" || die "$out is not static"
    printf '%s' "$out"
}
