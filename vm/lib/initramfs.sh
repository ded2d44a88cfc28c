# Packs the guest initramfs; sourced by vm/run.sh.

# pack_initramfs KERNEL OUT: busybox, the guest binaries, the dynamic suite with its mapper
# and loader, the board files, /init.
pack_initramfs() {
    local kernel=$1 out=$2 root name path
    root=$(mktemp -d "$VM_CACHE/initramfs.XXXXXX")
    mkdir -p "$root"/{bin,boards,dev,etc,proc,sys,tmp}
    cp "$(command -v busybox)" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    for name in "${!GUEST_BINARIES[@]}"; do
        cp "${GUEST_BINARIES[$name]}" "$root/bin/$name"
    done
    for path in "${!GUEST_DYNAMIC[@]}"; do
        mkdir -p "$root${path%/*}"
        cp "${GUEST_DYNAMIC[$path]}" "$root$path"
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
