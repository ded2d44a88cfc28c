# Fetching Debian kernel sources and building cached kernels; sourced by vm/run.sh.

# Private apt state so other Debian suites never touch the machine's own apt setup.
apt_private() {
    local state=$VM_CACHE/apt
    local list
    list=$(printf 'deb http://deb.debian.org/debian %s main\n' "${VM_KERNEL_SUITE[@]}" | sort -u)
    mkdir -p "$state/lists/partial"
    if [[ ! -f $state/sources.list ]] || [[ $(cat "$state/sources.list") != "$list" ]]; then
        printf '%s\n' "$list" >"$state/sources.list"
        rm -f "$state/updated"
    fi
    apt-get -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache" "$@"
}

# The patches applied to <label>'s source before building, in order: those of its version,
# vm/kernel/<version>-*.patch (x86_64 6.12 and arm64-6.12 get the same ones).
kernel_patches() {
    compgen -G "$VM_DIR/kernel/$(kernel_version "$1")-*.patch" | sort || true
}

# Kernel cache key: label plus the sha256 (first 16 hex digits) of the fragment and the
# patches, so editing either builds a new kernel.
kernel_key() {
    local label=$1 fragment=$VM_DIR/kernel/$1.config
    [[ -f $fragment ]] || die "no kernel fragment $fragment (known kernels: ${VM_KERNELS[*]})"
    local -a files=("$fragment")
    mapfile -t -O 1 files < <(kernel_patches "$label")
    printf '%s-%s' "$label" "$(cat "${files[@]}" | sha256sum | cut -c1-16)"
}

# The source tree to build <label> from: the unpacked tree of its version without patches,
# else a hard-linked copy of it with the patches applied (each patched file unlinked first,
# so the pristine tree other kernels build from is never written), made once per patch set.
kernel_source() {
    local label=$1 src patches patched file patch
    src=$VM_CACHE/src/linux-source-$(kernel_version "$label")
    mapfile -t patches < <(kernel_patches "$label")
    if ((${#patches[@]} == 0)); then
        printf '%s' "$src"
        return 0
    fi
    patched=$src-$(cat "${patches[@]}" | sha256sum | cut -c1-16)
    if [[ ! -f $patched/.patched ]]; then
        rm -rf "$patched.tmp"
        cp -al "$src" "$patched.tmp"
        for patch in "${patches[@]}"; do
            while read -r file; do
                cp "$patched.tmp/$file" "$patched.tmp/$file.unlinked"
                mv "$patched.tmp/$file.unlinked" "$patched.tmp/$file"
            done < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$patch")
            patch -d "$patched.tmp" -p1 --quiet <"$patch" >&2 \
                || die "kernel $label: $(basename "$patch") does not apply"
        done
        touch "$patched.tmp/.patched"
        rm -rf "$patched" && mv "$patched.tmp" "$patched"
    fi
    printf '%s' "$patched"
}

# The boot image make builds for the label's architecture (relative to arch/<arch>/boot).
kernel_image_name() { if [[ $(kernel_arch "$1") == arm64 ]]; then echo Image; else echo bzImage; fi; }

kernel_image() { printf '%s/kernel/%s/%s' "$VM_CACHE" "$(kernel_key "$1")" "$(kernel_image_name "$1")"; }

# make's ARCH and CROSS_COMPILE for the label (x86_64 is the host's own).
kernel_make_args() {
    case $(kernel_arch "$1") in
        x86) ;;
        arm64) printf '%s\n' ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- ;;
        *) die "no build settings for kernel $1" ;;
    esac
}

# Downloads linux-source-<version>.deb for the label into the cache and unpacks it once
# (kernels of one version share the tree: builds are out-of-tree and may run in parallel).
kernel_fetch() {
    local version debs=$VM_CACHE/debs src
    version=$(kernel_version "$1")
    src=$VM_CACHE/src/linux-source-$version
    [[ -f $src/Makefile ]] && return 0
    mkdir -p "$debs"
    if ! compgen -G "$debs/linux-source-${version}_*.deb" >/dev/null; then
        if [[ ! -f $VM_CACHE/apt/updated ]]; then
            log "apt update (private state for ${VM_KERNEL_SUITE[*]})"
            apt_private update -qq || die "apt-get update for the kernel suites failed"
            touch "$VM_CACHE/apt/updated"
        fi
        log "downloading linux-source-$version"
        # `apt-get download` as root warns about the _apt sandbox user: harmless.
        (cd "$debs" && apt_private download -qq "linux-source-$version" 2>&1 | grep -v '_apt' >&2) || true
        compgen -G "$debs/linux-source-${version}_*.deb" >/dev/null \
            || die "download of linux-source-$version failed"
    fi
    kernel_unpack "$version"
}

# Unpacks the source tree once; later builds reuse it (out-of-tree, so it stays clean).
kernel_unpack() {
    local version=$1 src=$VM_CACHE/src/linux-source-$1
    [[ -f $src/Makefile ]] && return 0
    local tmp=$VM_CACHE/src/.unpack-$version deb
    deb=$(compgen -G "$VM_CACHE/debs/linux-source-${version}_*.deb" | head -n1)
    rm -rf "$tmp" && mkdir -p "$tmp"
    log "unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$tmp/deb"
    tar -C "$tmp" -xf "$tmp/deb/usr/src/linux-source-$version.tar.xz"
    [[ -f $tmp/linux-source-$version/Makefile ]] || die "unexpected layout in $deb"
    mv "$tmp/linux-source-$version" "$src"
    rm -rf "$tmp"
}

# Builds the boot image for kernel <label> with <jobs> make jobs unless the cache has it.
kernel_build() {
    local version=$1 jobs=$2 key image out build src fragment name
    local -a arch
    key=$(kernel_key "$version")
    image=$(kernel_image "$version")
    [[ -f $image ]] && { log "kernel $version cached: $image"; return 0; }
    fragment=$VM_DIR/kernel/$version.config
    out=$(dirname "$image")
    name=$(kernel_image_name "$version")
    mapfile -t arch < <(kernel_make_args "$version")
    build=$VM_CACHE/build/$key
    [[ -f $VM_CACHE/src/linux-source-$(kernel_version "$version")/Makefile ]] \
        || die "kernel source of $version not unpacked (kernel_fetch first)"
    src=$(kernel_source "$version")
    rm -rf "$build" && mkdir -p "$build"
    local started
    started=$(now)
    log "building kernel $version (-j$jobs, patches: $(kernel_patches "$version" | xargs -r -n1 basename | xargs)), log: $build/build.log"
    {
        make -C "$src" O="$build" "${arch[@]}" tinyconfig
        "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment"
        make -C "$src" O="$build" "${arch[@]}" olddefconfig
    } >"$build/build.log" 2>&1 || die "configuring kernel $version failed: see $build/build.log"
    # An option whose dependencies are unmet is dropped silently: refuse such a kernel.
    local line missing=()
    while IFS= read -r line; do
        [[ $line =~ ^CONFIG_ ]] || continue
        grep -qxF -- "$line" "$build/.config" || missing+=("$line")
    done <"$fragment"
    ((${#missing[@]} == 0)) || die "kernel $version: fragment options lost by olddefconfig: ${missing[*]}"
    make -C "$src" O="$build" "${arch[@]}" -j"$jobs" "$name" >>"$build/build.log" 2>&1 \
        || { tail -n 30 "$build/build.log" >&2; die "building kernel $version failed: see $build/build.log"; }
    mkdir -p "$out.tmp"
    cp "$build/arch/$(kernel_arch "$version")/boot/$name" "$out.tmp/$name"
    cp "$build/.config" "$out.tmp/config"
    rm -rf "$out" && mv "$out.tmp" "$out"
    rm -rf "$build"
    log "kernel $version built in $(($(now) - started)) s: $image"
}
