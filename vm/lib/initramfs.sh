# Packs the guest initramfs; sourced by vm/run.sh.

# pack_initramfs KERNEL OUT: busybox, the guest binaries, the dynamic suite with its mapper
# and loader, the board files, /init; all of the kernel's architecture.
pack_initramfs() {
    local kernel=$1 out=$2 root key path arch
    arch=$(guest_arch "$kernel")
    root=$(mktemp -d "$VM_CACHE/initramfs.XXXXXX")
    mkdir -p "$root"/{bin,boards,dev,etc,proc,sys,tmp}
    if [[ $arch == aarch64 ]]; then
        cp "$(arm64_busybox)" "$root/bin/busybox"
    else
        cp "$(command -v busybox)" "$root/bin/busybox"
    fi
    ln -s busybox "$root/bin/sh"
    for key in "${!GUEST_BINARIES[@]}"; do
        [[ $key == "$arch":* ]] && cp "${GUEST_BINARIES[$key]}" "$root/bin/${key#*:}"
    done
    for key in "${!GUEST_DYNAMIC[@]}"; do
        [[ $key == "$arch":* ]] || continue
        path=${key#*:}
        mkdir -p "$root${path%/*}"
        cp "${GUEST_DYNAMIC[$key]}" "$root$path"
    done
    if compgen -G "$REPO_DIR/usage-map/boards/*.toml" >/dev/null; then
        cp "$REPO_DIR"/usage-map/boards/*.toml "$root/boards/"
    fi
    install -m 0755 "$VM_DIR/guest/init.sh" "$root/init"
    printf 'KERNEL=%s\n' "$kernel" >"$root/etc/vm-plan"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$root"
}
