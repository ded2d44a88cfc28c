# Host packages the harness needs; sourced by vm/run.sh.

# Debian packages and a command each provides (the command tells whether it is installed).
HOST_PACKAGES=(
    qemu-system-x86:qemu-system-x86_64 busybox-static:busybox cpio:cpio xz-utils:xz
    gcc:gcc make:make flex:flex bison:bison bc:bc libelf-dev:/usr/include/libelf.h
    libssl-dev:/usr/include/openssl/ssl.h dpkg-dev:dpkg-deb binutils:readelf
    util-linux:flock gzip:gzip libc-bin:ldd
)

host_deps() {
    local entry package probe missing=()
    for entry in "${HOST_PACKAGES[@]}"; do
        package=${entry%%:*}
        probe=${entry#*:}
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
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# True when the ELF file needs no program interpreter (static or static-pie).
is_static() {
    readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter' && return 1
    readelf -h "$1" >/dev/null 2>&1
}
