# Shared settings and helpers for the VM harness; sourced by vm/run.sh and the other vm/lib files.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$VM_DIR/.." && pwd)
VM_CACHE=${GRALLOC_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gralloc-vm}
# Kernels the harness knows, by label: <version> (x86_64) or <arch>-<version>. Each has
# vm/kernel/<label>.config and a guest plan in vm/guest/init.sh.
VM_KERNELS=(6.12 5.10 arm64-6.12)
# Debian suite that ships linux-source-<version>, by label.
declare -A VM_KERNEL_SUITE=([6.12]=trixie [5.10]=bullseye [arm64-6.12]=trixie)

# kernel_version LABEL: the linux-source version (arm64-6.12 -> 6.12).
kernel_version() { printf '%s' "${1##*-}"; }
# kernel_arch LABEL: the kernel's ARCH (x86 for a bare version, else the label's prefix).
kernel_arch() { if [[ $1 == *-* ]]; then printf '%s' "${1%%-*}"; else printf 'x86'; fi; }

log() { printf '[vm %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf '[vm] ERROR: %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, for step timings.
now() { date +%s; }

# apt-get, run with sudo when not root.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
