# Boots a kernel with its initramfs under qemu and judges the guest's marker lines; sourced
# by vm/run.sh.

# boot_guest KERNEL IMAGE INITRD LOG: the guest's console goes to the terminal and to LOG.
# tsc=reliable: under TCG the clocksource watchdog may call the TSC unstable, and tinyconfig
# has nothing between it and jiffies, whose 4 ms steps would blur the bench step's timings.
# cma_camera=32M (the 6.12 kernels, from vm/kernel/6.12-camera-cma.patch): a second CMA area, the
# `camera` dma-heap the boards' camera rule and pool use.
# arm64: the virt machine with a Cortex-A72 (an ARMv8.0 core like the HiKey960's A73/A53;
# `-cpu max` would add pointer authentication, which TCG emulates slowly), PL011 console.
boot_guest() {
    local kernel=$1 image=$2 initrd=$3 log_file=$4 rc=0 extra=""
    [[ $(kernel_version "$kernel") == 6.12 ]] && extra=" cma_camera=32M"
    local -a machine
    if [[ $(kernel_arch "$kernel") == arm64 ]]; then
        machine=(qemu-system-aarch64 -M virt -cpu cortex-a72 -accel tcg -smp 2 -m 1024
            -append "console=ttyAMA0 quiet panic=-1 cma=128M$extra")
    else
        machine=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024
            -append "console=ttyS0 quiet panic=-1 cma=128M tsc=reliable$extra")
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
