#!/usr/bin/env bash
# Real-kernel test harness: builds cached kernels (Debian's linux-source 6.12 and 5.10 with
# vm/kernel/<label>.config, x86_64 and arm64), the project's binaries for each guest
# architecture and an initramfs, boots each kernel under qemu (TCG) and runs vm/guest/init.sh
# inside. Exit status 0 only when every guest step passed. See vm/README.md.
#
# Usage: vm/run.sh [6.12|5.10|arm64-6.12|all]   (default all)
# Environment: GRALLOC_VM_CACHE (cache dir), GRALLOC_VM_JOBS (make/cargo jobs, default nproc),
# GRALLOC_VM_TIMEOUT (seconds per guest, default 1800), GRALLOC_VM_TARGET_DIR (cargo target dir).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$VM_DIR/lib/deps.sh"
source "$VM_DIR/lib/kernel.sh"
source "$VM_DIR/lib/binaries.sh"
source "$VM_DIR/lib/initramfs.sh"
source "$VM_DIR/lib/boot.sh"

usage() { printf 'usage: %s [%s|all]\n' "$0" "${VM_KERNELS[*]// /|}" >&2; exit 64; }

case ${1:-all} in
    all) kernels=("${VM_KERNELS[@]}") ;;
    -h | --help) usage ;;
    *)
        [[ -n ${VM_KERNEL_SUITE[$1]:-} && -f $VM_DIR/kernel/$1.config ]] || usage
        kernels=("$1")
        ;;
esac
(($# <= 1)) || usage

VM_JOBS=${GRALLOC_VM_JOBS:-$(nproc)}
VM_TIMEOUT=${GRALLOC_VM_TIMEOUT:-1800}
mkdir -p "$VM_CACHE/logs"
# One run at a time per cache: kernels and tools are built in place.
exec 9>"$VM_CACHE/lock"
flock 9 || die "cannot lock $VM_CACHE/lock"

started=$(now)
host_deps "${kernels[@]}"

# Kernels first, all at once, with nothing else running.
phase=$(now)
to_build=()
for kernel in "${kernels[@]}"; do
    # The patched source tree is made here, serially: kernels of one version share it.
    [[ -f $(kernel_image "$kernel") ]] || {
        kernel_fetch "$kernel"
        kernel_source "$kernel" >/dev/null
        to_build+=("$kernel")
    }
done
pids=()
for kernel in "${to_build[@]}"; do
    kernel_build "$kernel" "$VM_JOBS" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || die "a kernel build failed (see the messages above)"
done
kernel_seconds=$(($(now) - phase))

phase=$(now)
for arch in $(for kernel in "${kernels[@]}"; do guest_arch "$kernel"; done | sort -u); do
    build_guest_programs "$arch"
done
build_seconds=$(($(now) - phase))
for failure in "${BUILD_FAILURES[@]}"; do
    log "missing in the guest: $failure"
done

status=0
declare -A guest_seconds=()
for kernel in "${kernels[@]}"; do
    phase=$(now)
    initrd=$VM_CACHE/initramfs-$kernel.gz
    pack_initramfs "$kernel" "$initrd"
    guest_log=$VM_CACHE/logs/guest-$kernel.log
    boot_guest "$kernel" "$(kernel_image "$kernel")" "$initrd" "$guest_log"
    guest_seconds[$kernel]=$(($(now) - phase))
    judge "$kernel" "$guest_log" >"$VM_CACHE/logs/result-$kernel.txt" || status=1
done

printf '\n=== VM results ===\n'
for kernel in "${kernels[@]}"; do
    cat "$VM_CACHE/logs/result-$kernel.txt"
done
for failure in "${BUILD_FAILURES[@]}"; do
    printf 'build: %s\n' "$failure"
    status=1
done
printf '\ntimings: kernels %ss, binaries %ss, guests %s, total %ss\n' "$kernel_seconds" \
    "$build_seconds" "$(for k in "${kernels[@]}"; do printf '%s=%ss ' "$k" "${guest_seconds[$k]}"; done)" \
    "$(($(now) - started))"
if ((status == 0)); then echo "VM suite: PASS"; else echo "VM suite: FAIL"; fi
exit "$status"
