# Boots a kernel with its initramfs under qemu and judges the guest's marker lines; sourced
# by vm/run.sh.

# tsc_khz_option: `tsc_early_khz=N` with the host's TSC rate when the host's TSC is constant.
# Under TCG the guest reads the host's TSC, so this is the guest's rate too; given it, the
# guest skips calibrating against the emulated PIT, which fails on a busy host and leaves
# the guest on jiffies. (Where the host scales its clock, cpu MHz is only near the TSC rate:
# absolute times are then off by that factor, ratios are not.)
tsc_khz_option() {
    grep -qw constant_tsc /proc/cpuinfo || return 0
    awk -F: '/^cpu MHz/ { printf "tsc_early_khz=%d", $2 * 1000; exit }' /proc/cpuinfo
}

# boot_guest KERNEL IMAGE INITRD LOG: the guest's console goes to the terminal and to LOG.
# tsc=reliable: under TCG the clocksource watchdog may call the TSC unstable, and tinyconfig
# has nothing between it and jiffies, whose 4 ms steps would blur the bench steps' timings
# (tsc_khz_option keeps calibration from failing for the same reason).
# cma_camera=32M (the 6.12 kernels, from vm/kernel/6.12-camera-cma.patch): a second CMA area,
# the `camera` dma-heap the boards' camera rule and pool use.
# arm64: the virt machine with a Cortex-A72 (an ARMv8.0 core like the HiKey960's A73/A53;
# `-cpu max` would add pointer authentication, which TCG emulates slowly), PL011 console,
# and the arch timer (no TSC to calibrate).
boot_guest() {
    local kernel=$1 image=$2 initrd=$3 log_file=$4 rc=0 extra=""
    [[ $(kernel_version "$kernel") == 6.12 ]] && extra=" cma_camera=32M"
    local -a machine
    if [[ $(kernel_arch "$kernel") == arm64 ]]; then
        machine=(qemu-system-aarch64 -M virt -cpu cortex-a72 -accel tcg -smp 2 -m 1024
            -append "console=ttyAMA0 quiet panic=-1 cma=128M$extra")
    else
        machine=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024
            -append "console=ttyS0 quiet panic=-1 cma=128M tsc=reliable $(tsc_khz_option)$extra")
    fi
    log "booting $kernel (timeout ${VM_TIMEOUT}s), log: $log_file"
    timeout --kill-after=10 "$VM_TIMEOUT" "${machine[@]}" \
        -nographic -no-reboot -kernel "$image" -initrd "$initrd" </dev/null 2>&1 \
        | sed -u 's/\r//g' | tee "$log_file" || rc=$?
    if ((rc == 124 || rc == 137)); then
        log "guest $kernel timed out after ${VM_TIMEOUT}s"
    fi
    return 0
}

# judge KERNEL LOG: prints the kernel's results; false when a step failed or the guest did not
# finish.
judge() {
    local kernel=$1 log_file=$2 ok=0 line
    local -a markers
    mapfile -t markers < <(grep -ao "VMTEST $kernel .*" "$log_file" || true)
    printf '\n=== kernel %s ===\n' "$kernel"
    for line in "${markers[@]}"; do
        printf '  %s\n' "${line#VMTEST "$kernel" }"
    done
    grep -aq "VMTEST $kernel [^ ]* FAIL" "$log_file" && ok=1
    if ! grep -aqx "VMTEST-END $kernel" "$log_file"; then
        printf '  guest did not finish (crash, panic or timeout): see %s\n' "$log_file"
        ok=1
    fi
    # The conformance suite's own summary, per board.
    local vts
    vts=$(grep -ao "VMTEST $kernel [a-z0-9]*-vts .*" "$log_file" || true)
    if [[ -z $vts ]]; then
        printf '  kernel %s: conformance suite did not run\n' "$kernel"
        ok=1
    fi
    while read -r _ _ step verdict detail; do
        [[ -n ${step:-} ]] && printf '  kernel %s %s: %s (%s)\n' "$kernel" "${step%-vts}" "$detail" "$verdict"
    done <<<"$vts"
    return $ok
}
