#!/bin/sh
# Guest /init of the VM harness (busybox ash). Runs the steps planned for this kernel and
# prints one marker line per step on the serial console:
#
#     VMTEST <kernel> <step> PASS|FAIL|SKIP <detail>
#
# then `VMTEST <kernel> summary ...` and `VMTEST-END <kernel>`, and reboots (qemu exits).
# vm/run.sh parses these lines; a missing END line means the guest died.
# /etc/vm-plan (written by vm/run.sh) sets KERNEL to the kernel's label (6.12, 5.10,
# arm64-6.12).

export PATH=/bin
/bin/busybox --install -s /bin
# The firmware leaves escape sequences on the console line: start marker lines on a fresh one.
echo
. /etc/vm-plan

SERVICE_NAME=android.hardware.graphics.allocator.IAllocator/default
BINDER=/dev/binderfs/binder
# mapper.<suffix>.so for every board's suffix (vm/lib/binaries.sh, GUEST_MAPPER_DIR).
MAPPER_DIR=/lib/gralloc-mapper
DEBUGFS=/sys/kernel/debug
# A 1920x1080 RGBA_8888 buffer: about 8 MiB, so the 128 MiB CMA area holds about 15.
BIG="--width 1920 --height 1080 --format RGBA_8888"
# What SurfaceFlinger asks for most: a small buffer.
SMALL="--width 64 --height 64 --format RGBA_8888"
# What SurfaceFlinger asks for a client target (must come from CMA) and a plain GPU texture
# (must come from the system heap).
FB_USAGE=COMPOSER_CLIENT_TARGET,GPU_RENDER_TARGET
DEFAULT_USAGE=GPU_TEXTURE,GPU_RENDER_TARGET
# Usages tried, in order, to find a rule whose first heap is the CMA heap and that allows
# fallback (the board decides which one it is).
FALLBACK_CANDIDATES="CAMERA_OUTPUT CAMERA_OUTPUT,CAMERA_INPUT VIDEO_DECODER VIDEO_ENCODER \
HW_IMAGE_ENCODER COMPOSER_OVERLAY COMPOSER_OVERLAY,GPU_TEXTURE FRONT_BUFFER,GPU_RENDER_TARGET \
SENSOR_DIRECT_DATA GPU_DATA_BUFFER"

# Iterations of each bench run (the small-request runs do twice as many). TCG emulates arm64
# several times slower than x86_64: fewer there, so the guest fits its timeout.
case $KERNEL in
    arm64-*) BENCH_ITERATIONS=30 ;;
    *) BENCH_ITERATIONS=100 ;;
esac

passes=0
fails=0
skips=0
SVC=""
SVC_LOG=""
svc_starts=0

mark() { echo "VMTEST $KERNEL $1 $2 $3"; }
pass() { passes=$((passes + 1)); mark "$1" PASS "$2"; }
fail() { fails=$((fails + 1)); mark "$1" FAIL "$2"; }
skip() { skips=$((skips + 1)); mark "$1" SKIP "$2"; }
note() { echo "[guest $KERNEL] $*"; }

# need STEP BINARY...: true when every binary is present; else fails STEP loudly.
need() {
    step=$1
    shift
    for binary in "$@"; do
        if [ ! -x "/bin/$binary" ]; then
            echo "FAIL: $step: binary missing ($binary)"
            fail "$step" "binary missing: $binary"
            return 1
        fi
    done
    return 0
}

# Prints a file indented, so guest output stays apart from the marker lines.
show() { sed 's/^/    | /' "$1"; }

# wait_for_line FILE PATTERN SECONDS [PID]: true once FILE holds PATTERN; false on timeout
# or when PID exits first.
wait_for_line() {
    tries=$(($3 * 10))
    while [ "$tries" -gt 0 ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
            grep -q "$2" "$1" 2>/dev/null
            return
        fi
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# kB the CMA area `reserved` has handed out (debugfs `used` counts pages; 5.10 names the
# directory cma-reserved). Exact, unlike CmaFree, which movable pages borrowing CMA blur.
cma_used_kb() {
    for dir in "$DEBUGFS/cma/reserved" "$DEBUGFS/cma/cma-reserved"; do
        if [ -r "$dir/used" ]; then
            echo $(($(cat "$dir/used") * 4))
            return
        fi
    done
    echo "CMA debugfs missing" >&2
    echo -1
}

# json_field FILE KEY: the first string or number value of "KEY" in the client's JSON.
json_field() {
    sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1
}

# The service's fd count and whether it holds a dma-buf (it must never keep one after a
# reply). Buffers waiting in its reserve pools (dma-buf name `pool:<name>`, link
# `/dmabuf:pool:<name>`) are its baseline: they are not counted as held.
svc_fd_count() { ls "/proc/$SVC/fd" 2>/dev/null | wc -l; }
svc_dmabufs() {
    for fd in /proc/"$SVC"/fd/*; do
        readlink "$fd" 2>/dev/null
    done | grep 'dmabuf' | grep -vc '^/dmabuf:pool:' || true
}

# ---------------------------------------------------------------- common steps

step_mounts() {
    mount -t proc proc /proc &&
        mount -t sysfs sysfs /sys &&
        mount -t devtmpfs devtmpfs /dev &&
        mount -t tmpfs tmpfs /tmp &&
        mount -t debugfs debugfs "$DEBUGFS" &&
        mkdir -p /dev/binderfs &&
        mount -t binder binder /dev/binderfs
    if [ -c "$BINDER" ]; then
        pass mounts "proc sys devtmpfs tmpfs debugfs binderfs"
    else
        fail mounts "binderfs has no binder device"
    fi
}

step_devices() {
    note "kernel $(uname -r), $(grep -E '^(MemTotal|CmaTotal|CmaFree):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
    note "clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)"
    ls -l /dev/dma_heap /dev/binderfs /dev/ion /dev/udmabuf 2>&1 | sed 's/^/    | /'
    expected="/dev/dma_heap/system /dev/dma_heap/reserved $BINDER /proc/self/make-it-fail \
$DEBUGFS/failslab/probability $DEBUGFS/fail_page_alloc/task-filter"
    [ -d "$DEBUGFS/cma/reserved" ] || expected="$expected $DEBUGFS/cma/cma-reserved"
    case $KERNEL in
        5.10) expected="$expected /dev/ion" ;;
        # cma_camera=32M: the second CMA area and its heap (vm/kernel/6.12-camera-cma.patch).
        *) expected="$expected /dev/udmabuf /dev/dma_heap/camera $DEBUGFS/cma/camera" ;;
    esac
    missing=""
    for node in $expected; do
        [ -e "$node" ] || missing="$missing $node"
    done
    cma=$(awk '/^CmaTotal:/ { print $2 }' /proc/meminfo)
    if [ -n "$missing" ]; then
        fail devices "missing:$missing"
    elif [ "${cma:-0}" -lt 131072 ]; then
        fail devices "CmaTotal ${cma:-none} kB, expected 131072 (cma=128M)"
    else
        pass devices "$(ls /dev/dma_heap | tr '\n' ' ')$([ -e /dev/ion ] && echo '+ ion ')CmaTotal ${cma} kB"
    fi
}

# run_heaps_tests STEP BINARY ARGS...: one libtest binary of the heaps crate; passes only
# when it exits 0 and nothing stayed ignored (every device test ran).
run_heaps_tests() {
    step=$1
    binary=$2
    shift 2
    HEAPS_REQUIRE_DEVICES=1 timeout 300 "/bin/$binary" --test-threads=1 "$@" >/tmp/$step.log 2>&1
    rc=$?
    show /tmp/$step.log
    result=$(grep 'test result:' /tmp/$step.log | tail -n 1)
    if [ "$rc" -ne 0 ]; then
        fail "$step" "exit $rc: ${result:-no result line}"
    elif ! echo "$result" | grep -q ' 0 ignored'; then
        fail "$step" "tests left ignored: $result"
    elif echo "$result" | grep -q ' 0 passed'; then
        fail "$step" "no test ran: $result"
    else
        pass "$step" "$result"
    fi
}

step_heaps_test() {
    # The #[ignore = "needs /dev/..."] device tests run here; with HEAPS_REQUIRE_DEVICES=1 a
    # missing device fails them instead of printing SKIP.
    if need heaps-real-kernel heaps-real-kernel; then
        run_heaps_tests heaps-real-kernel heaps-real-kernel --include-ignored
    fi
    if need heaps-unit heaps-unit; then
        run_heaps_tests heaps-unit heaps-unit --ignored
    fi
}

step_hub() {
    need hub rsb_hub rsb_service || return 1
    rsb_hub --insecure-allow-all >/tmp/hub.log 2>&1 &
    hub=$!
    tries=100
    while [ "$tries" -gt 0 ]; do
        rsb_service list >/dev/null 2>&1 && break
        kill -0 "$hub" 2>/dev/null || break
        sleep 0.1
        tries=$((tries - 1))
    done
    if rsb_service list >/dev/null 2>&1; then
        pass hub "rsb_hub pid $hub answers on $BINDER"
        return 0
    fi
    show /tmp/hub.log
    fail hub "rsb_hub does not answer"
    return 1
}

# ---------------------------------------------------------------- service

# start_service STEP BOARD: starts gralloc-allocator on kernel binder; sets SVC.
start_service() {
    svc_starts=$((svc_starts + 1))
    SVC_LOG=/tmp/service.$svc_starts.log
    gralloc-allocator --board "$2" --binder "$BINDER" >"$SVC_LOG" 2>&1 &
    SVC=$!
    if wait_for_line "$SVC_LOG" 'gralloc-allocator: serving' 30 "$SVC" &&
        rsb_service check "$SERVICE_NAME" >/dev/null 2>&1; then
        pass "$1" "pid $SVC: $(grep 'gralloc-allocator: serving' "$SVC_LOG" | head -n 1)"
        return 0
    fi
    show "$SVC_LOG"
    fail "$1" "not serving within 30 s (board $2)"
    kill -9 "$SVC" 2>/dev/null
    SVC=""
    return 1
}

stop_service() {
    [ -n "$SVC" ] || return 0
    kill -TERM "$SVC" 2>/dev/null
    wait "$SVC"
    rc=$?
    show "$SVC_LOG"
    if [ "$rc" -eq 0 ]; then
        pass "$1" "SIGTERM: clean exit"
    else
        fail "$1" "SIGTERM: exit $rc"
    fi
    SVC=""
}

service_alive() { [ -n "$SVC" ] && kill -0 "$SVC" 2>/dev/null; }

# ---------------------------------------------------------------- board suite

# check_route STEP USAGE WHERE: allocates one big buffer, holds it mapped and reads the CMA
# area's use meanwhile. WHERE is cma (use must grow by the buffer's size) or system (it must
# not grow). Only the guest sees the CMA area: which heap and exporter the buffer came from
# is the suite's routing case (golden table, fdinfo exporter).
check_route() {
    step=$1
    before=$(cma_used_kb)
    # Emptied here, not by the client's redirect: that runs in the child, after
    # wait_for_line may already have found the previous step's 'holding'.
    : >/tmp/route.err
    gralloc --connect binder alloc $BIG --usage "$2" --json --hold 3 \
        >/tmp/route.json 2>/tmp/route.err &
    client=$!
    wait_for_line /tmp/route.err 'holding' 20 "$client"
    during=$(cma_used_kb)
    wait "$client"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        show /tmp/route.err
        fail "$step" "alloc $2: exit $rc"
        return
    fi
    size_kb=$(($(json_field /tmp/route.json fd_size) / 1024))
    exporter=$(json_field /tmp/route.json exporter)
    heap=$(json_field /tmp/route.json heap)
    grown=$((during - before))
    detail="usage $2: heap $heap, exporter $exporter, $size_kb kB, CMA use grew $grown kB"
    if ! grep -q 'pattern intact' /tmp/route.err; then
        fail "$step" "$detail; held mapping not verified"
    elif [ "$before" -lt 0 ]; then
        fail "$step" "$detail; CMA use unreadable"
    elif [ "$3" = cma ] && [ "$grown" -lt "$size_kb" ]; then
        fail "$step" "$detail; not from CMA"
    elif [ "$3" = system ] && [ "$grown" -ne 0 ]; then
        fail "$step" "$detail; came from CMA"
    else
        pass "$step" "$detail"
    fi
}

# board_suite LABEL BOARD: service on BOARD, conformance suite (routing and nothing-lost
# included: the suite checks the service's fds and dma-bufs after every case), CMA use of
# the framebuffer and default routes. Leaves the service running (SVC) for the fault steps.
board_suite() {
    label=$1
    board=$2
    need "$label-service" gralloc-allocator || return 1
    [ -f "$board" ] || {
        fail "$label-service" "board file $board missing from the initramfs"
        return 1
    }
    start_service "$label-service" "$board" || return 1

    if need "$label-vts" gralloc-vts; then
        # The whole suite, mapper area included: gralloc-vts is the one dynamic binary here
        # and loads mapper.<suffix>.so (the service's getIMapperLibrarySuffix) from
        # MAPPER_DIR, so lock/unlock sync real dma-bufs and the shared metadata region comes
        # from this kernel's system heap.
        GRALLOC_MAPPER_DIR=$MAPPER_DIR timeout 1200 gralloc-vts --connect binder --board "$board" \
            >/tmp/vts.log 2>&1
        rc=$?
        show /tmp/vts.log
        summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' /tmp/vts.log | tail -n 1)
        # The suite finds the service by name over kernel binder; without it the
        # nothing-lost checks would look at the client side only.
        if ! grep -qE "service pid $SVC([^0-9]|\$)" /tmp/vts.log; then
            fail "$label-vts" "suite did not find service pid $SVC: service-side checks off"
        elif [ "$rc" -eq 0 ] && echo "$summary" | grep -q ' 0 failed'; then
            pass "$label-vts" "$summary"
        else
            fail "$label-vts" "exit $rc: ${summary:-no summary line}"
        fi
    fi

    if need "$label-route" gralloc; then
        check_route "$label-route-fb" "$FB_USAGE" cma
        check_route "$label-route-default" "$DEFAULT_USAGE" system
    fi

    if ! service_alive; then
        fail "$label-alive" "service died during the suite or the route checks"
        show "$SVC_LOG"
        SVC=""
        return 1
    fi
    return 0
}

# bench_one "SIZE ARGS" USAGE BASELINE ITERATIONS: `gralloc bench`; prints its report, sets
# BENCH_RATIOS to "median M / mean A" (service/baseline). False when the command fails.
bench_one() {
    # shellcheck disable=SC2086 # $1 is several arguments
    gralloc --connect binder bench $1 --usage "$2" --baseline "$3" --iterations "$4" \
        >/tmp/bench.out 2>&1
    rc=$?
    show /tmp/bench.out
    BENCH_RATIOS=$(sed -n 's/^ratio service\/baseline (median): \([0-9.]*\), (mean): \([0-9.]*\),.*/median \1 \/ mean \2/p' /tmp/bench.out)
    [ "$rc" -eq 0 ] && [ -n "$BENCH_RATIOS" ]
}

# svc_memory: the service's resident and peak resident memory in kB.
svc_memory() { awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { print rss " kB (peak " hwm " kB)" }' "/proc/$SVC/status"; }

# step_bench LABEL CMA_BASELINE SYSTEM_BASELINE: what allocate2 over kernel binder costs
# against the heap's own ioctl, for a CMA and a system buffer, and the service's memory
# around it. Figures only: the step fails when the benchmark cannot run, never on a number
# (TCG timings are not the board's).
step_bench() {
    need "$1-bench" gralloc || return
    note "$1-bench: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
    memory_before=$(svc_memory)
    if ! bench_one "$BIG" "$FB_USAGE" "$2" "$BENCH_ITERATIONS"; then
        fail "$1-bench" "bench of $FB_USAGE against $2 did not run"
        return
    fi
    cma_ratios=$BENCH_RATIOS
    if ! bench_one "$BIG" "$DEFAULT_USAGE" "$3" "$BENCH_ITERATIONS"; then
        fail "$1-bench" "bench of $DEFAULT_USAGE against $3 did not run"
        return
    fi
    pass "$1-bench" "1920x1080 allocate2 over binder / direct ioctl: CMA $cma_ratios against $2, system $BENCH_RATIOS against $3; service RSS $memory_before before, $(svc_memory) after both runs"
}

# bench_under_load: `gralloc bench --load 4`: the 64x64 allocate2 timed alone, then while four
# clients (threads of the bench, one connection each) loop 8 MiB CMA allocations. Sets
# LOAD_RATIO (p99 under load / alone), LOAD_P99_ALONE, LOAD_P99_LOADED (us), LOAD_MIBS (the
# load's MiB/s by itself, before the probe runs beside it: a probe served faster makes more
# calls and takes more CPU from the load), LOAD_MIBS_PROBED (while probed) and LOAD_REFUSED.
# False when the bench fails.
bench_under_load() {
    # shellcheck disable=SC2086 # $SMALL is several arguments
    gralloc --connect binder bench $SMALL --usage "$DEFAULT_USAGE" --load 4 \
        --load-usage "$FB_USAGE" --iterations $((BENCH_ITERATIONS * 2)) >/tmp/load.out 2>&1
    rc=$?
    show /tmp/load.out
    LOAD_RATIO=$(sed -n 's/^p99 under load \/ alone: ratio \([0-9.]*\)$/\1/p' /tmp/load.out)
    LOAD_P99_ALONE=$(sed -n 's/^probe alone: .* p99 \([0-9.]*\) us,.*/\1/p' /tmp/load.out)
    LOAD_P99_LOADED=$(sed -n 's/^probe under load: .* p99 \([0-9.]*\) us,.*/\1/p' /tmp/load.out)
    LOAD_MIBS=$(sed -n 's/^load: .* alone [0-9]* allocations, \([0-9.]*\) MiB\/s .*/\1/p' /tmp/load.out)
    LOAD_MIBS_PROBED=$(sed -n 's/^load: .* while probed [0-9]* allocations, \([0-9.]*\) MiB\/s .*/\1/p' /tmp/load.out)
    LOAD_REFUSED=$(sed -n 's/^load: .* \([0-9]*\) refused: .*/\1/p' /tmp/load.out)
    [ "$rc" -eq 0 ] && [ -n "$LOAD_RATIO" ]
}

# load_figures: the last bench_under_load as marker-line text.
load_figures() {
    echo "p99 $LOAD_P99_ALONE us alone, $LOAD_P99_LOADED us under load (ratio $LOAD_RATIO), 8 MiB CMA load $LOAD_MIBS MiB/s alone, $LOAD_MIBS_PROBED MiB/s while probed, $LOAD_REFUSED refused"
}

# fifo_threads: "F of N" service threads running SCHED_FIFO (field 41 of /proc/<tid>/stat).
fifo_threads() {
    total=0
    fifo=0
    for stat in /proc/"$SVC"/task/*/stat; do
        total=$((total + 1))
        [ "$(awk '{ print $41 }' "$stat" 2>/dev/null)" = 1 ] && fifo=$((fifo + 1))
    done
    echo "$fifo of $total"
}

# reserve BOARD [DAEMON OPTIONS...]: stops the service and serves BOARD again with these
# options, without a marker line of its own; false when it does not come back.
reserve() {
    board=$1
    shift
    kill -TERM "$SVC" 2>/dev/null
    wait "$SVC"
    svc_starts=$((svc_starts + 1))
    SVC_LOG=/tmp/service.$svc_starts.log
    gralloc-allocator --board "$board" --binder "$BINDER" "$@" >"$SVC_LOG" 2>&1 &
    SVC=$!
    if wait_for_line "$SVC_LOG" 'gralloc-allocator: serving' 30 "$SVC" &&
        rsb_service check "$SERVICE_NAME" >/dev/null 2>&1; then
        return 0
    fi
    show "$SVC_LOG"
    return 1
}

# step_small_under_load LABEL BOARD: reliability E2, before and after in one run. The bench
# runs against the service as it serves (latency isolation on: 15 threads, 2 permits per
# contiguous heap, SCHED_FIFO binder threads), then against the same board served as before
# isolation existed (4 threads, no gate, SCHED_OTHER); the service is then restarted as it
# was for the steps that follow. Figures only, like step_bench: the marker line carries both
# runs and ends with the ratio of the isolated service.
step_small_under_load() {
    step=$1-small-under-load
    need "$step" gralloc || return
    if ! bench_under_load; then
        fail "$step" "bench --load 4 did not run"
        return
    fi
    on=$(load_figures)
    ratio=$LOAD_RATIO
    threads_on=$(fifo_threads)
    if ! reserve "$2" --threads 4 --latency-isolation off; then
        fail "$step" "service with --latency-isolation off did not serve"
        return
    fi
    if ! bench_under_load; then
        fail "$step" "bench --load 4 did not run against --latency-isolation off"
        return
    fi
    off=$(load_figures)
    if ! reserve "$2"; then
        fail "$step" "service did not come back after the comparison"
        return
    fi
    pass "$step" "64x64 allocate2 while 4 clients loop 8 MiB CMA allocations: isolation off (4 threads, no gate, SCHED_OTHER): $off; isolation on ($threads_on service threads SCHED_FIFO): $on: ratio $ratio"
}

# ---------------------------------------------------------------- fault steps

# plan_of BOARD USAGE: the `=> ...` line of `gralloc board explain`.
plan_of() {
    gralloc board explain "$1" --usage "$2" --format RGBA_8888 --size 1920x1080 2>&1 | grep '^=>'
}

# first heap name in a plan line "=> rule ...: heaps [a, b], fallback, align ..."
plan_heaps() { echo "$1" | sed -n 's/.*heaps \[\([^]]*\)\].*/\1/p'; }

# Holders of CMA buffers: pids, stopped by release_holders.
holders=""
release_holders() {
    for pid in $holders; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $holders; do
        wait "$pid" 2>/dev/null
    done
    holders=""
}

# Fill the CMA area through the service, then a no-fallback rule must answer
# NO_RESOURCES and a fallback rule must be served from its next heap.
step_cma_exhaustion() {
    label=$1
    board=$2
    step=$label-cma-exhaustion
    need "$step" gralloc || return
    strict_plan=$(plan_of "$board" "$FB_USAGE")
    cma_heap=$(plan_heaps "$strict_plan" | cut -d, -f1)
    case $strict_plan in
        *"no fallback"*) ;;
        *)
            fail "$step" "board rule for $FB_USAGE must forbid fallback: $strict_plan"
            return
            ;;
    esac
    fallback_usage=""
    fallback_heap=""
    for usage in $FALLBACK_CANDIDATES; do
        plan=$(plan_of "$board" "$usage")
        heaps=$(plan_heaps "$plan")
        case $plan in
            *"], fallback"*)
                if [ "$(echo "$heaps" | cut -d, -f1)" = "$cma_heap" ]; then
                    fallback_usage=$usage
                    fallback_heap=$(echo "$heaps" | cut -d, -f2 | tr -d ' ')
                    break
                fi
                ;;
        esac
    done
    if [ -z "$fallback_usage" ]; then
        fail "$step" "board has no rule with CMA heap $cma_heap first and fallback (tried: $FALLBACK_CANDIDATES)"
        return
    fi
    note "$step: strict $FB_USAGE -> $strict_plan"
    note "$step: fallback $fallback_usage -> $(plan_of "$board" "$fallback_usage")"

    cma_start=$(cma_used_kb)
    full=""
    i=0
    while [ "$i" -lt 40 ]; do
        i=$((i + 1))
        : >/tmp/fill.$i.err
        gralloc --connect binder alloc $BIG --usage "$FB_USAGE" --count 1 --hold 900 \
            >/tmp/fill.$i.out 2>/tmp/fill.$i.err &
        pid=$!
        if wait_for_line /tmp/fill.$i.err 'holding' 60 "$pid"; then
            holders="$holders $pid"
            continue
        fi
        wait "$pid"
        rc=$?
        if [ "$rc" -eq 2 ] && grep -q 'NO_RESOURCES' /tmp/fill.$i.err; then
            full=$((i - 1))
        else
            show /tmp/fill.$i.err
            full="error"
            error_rc=$rc
        fi
        break
    done
    cma_full=$(cma_used_kb)
    if [ "$full" = error ] || [ -z "$full" ]; then
        release_holders
        fail "$step" "filling CMA: attempt $i ended with exit ${error_rc:-none} instead of NO_RESOURCES"
        return
    fi
    note "$step: $full buffers held, CMA use $cma_start -> $cma_full kB; next one: $(tail -n 1 /tmp/fill.$i.err)"

    gralloc --connect binder alloc $BIG --usage "$fallback_usage" --json >/tmp/fallback.json 2>/tmp/fallback.err
    fallback_rc=$?
    served_heap=$(json_field /tmp/fallback.json heap)
    served_exporter=$(json_field /tmp/fallback.json exporter)
    alive_full=yes
    service_alive || alive_full=no

    release_holders
    sleep 1
    cma_end=$(cma_used_kb)
    gralloc --connect binder alloc $BIG --usage "$FB_USAGE" --json >/tmp/after.json 2>/tmp/after.err
    after_rc=$?

    detail="$full x 8 MiB held, then $FB_USAGE -> NO_RESOURCES; $fallback_usage -> heap ${served_heap:-none} (exporter ${served_exporter:-none}); CMA use $cma_start/$cma_full/$cma_end kB; after release exit $after_rc"
    if [ "$full" -lt 1 ]; then
        fail "$step" "$detail; not a single CMA buffer was allocated"
    elif [ "$fallback_rc" -ne 0 ] || [ "$served_heap" != "$fallback_heap" ]; then
        show /tmp/fallback.err
        fail "$step" "$detail; fallback rule must be served from $fallback_heap"
    elif [ "${KERNEL#arm64-}" = 6.12 ] && [ "$label" = dmaheap ] && [ "$served_exporter" != system ]; then
        fail "$step" "$detail; fallback buffer is not a system-heap dma-buf"
    elif [ "$alive_full" != yes ] || ! service_alive; then
        fail "$step" "$detail; service died"
    elif [ "$cma_end" -ne "$cma_start" ]; then
        fail "$step" "$detail; CMA not given back after release"
    elif [ "$after_rc" -ne 0 ]; then
        show /tmp/after.err
        fail "$step" "$detail; CMA allocation fails after release"
    else
        pass "$step" "$detail"
    fi
}

# set_fault ATTR_DIR PROBABILITY [START END]: task-filtered injection with every allocation
# eligible; START..END (hex addresses) limits it to calls made under that code.
set_fault() {
    dir=$DEBUGFS/$1
    echo 0 >"$dir/probability"
    echo 1 >"$dir/interval"
    echo 100000 >"$dir/times"
    echo 0 >"$dir/space"
    echo 0 >"$dir/verbose"
    echo Y >"$dir/task-filter"
    echo N >"$dir/ignore-gfp-wait"
    if [ "$1" = fail_page_alloc ]; then
        echo N >"$dir/ignore-gfp-highmem"
        echo 0 >"$dir/min-order"
    fi
    if [ -e "$dir/require-start" ]; then
        echo "${3:-0}" >"$dir/require-start"
        echo "${4:-18446744073709551615}" >"$dir/require-end"
    fi
    echo "$2" >"$dir/probability"
}

# Faults injected so far by both attributes (each started with times = 100000).
faults_injected() {
    echo $((200000 - $(cat "$DEBUGFS/failslab/times") - $(cat "$DEBUGFS/fail_page_alloc/times")))
}

# set_make_it_fail VALUE: on every thread of the service (make-it-fail is per task).
set_make_it_fail() {
    for task in /proc/"$SVC"/task/*; do
        echo "$1" >"$task/make-it-fail" 2>/dev/null
    done
}

# function_range NAME: "START END" of a kernel function from /proc/kallsyms (END is the next
# symbol's address; sort orders the fixed-width hex addresses numerically).
function_range() {
    sort /proc/kallsyms | awk -v name="$1" '
        $3 == name { start = $1; next }
        start != "" && $1 != start { print "0x" start, "0x" $1; exit }'
}

# tally_answer RC ERRFILE TRANSPORT_OK WHAT: counts one gralloc answer under injected faults
# in ok, refused (NO_RESOURCES), transport (the kernel's FailedTransaction, counted only when
# TRANSPORT_OK is yes) or other, showing the first five others (WHAT names the call).
tally_answer() {
    if [ "$1" -eq 0 ]; then
        ok=$((ok + 1))
    elif [ "$1" -eq 2 ] && grep -q 'NO_RESOURCES' "$2"; then
        refused=$((refused + 1))
    elif [ "$3" = yes ] && [ "$1" -eq 1 ] && grep -q 'FailedTransaction' "$2"; then
        transport=$((transport + 1))
    else
        other=$((other + 1))
        if [ "$other" -le 5 ]; then
            note "$step: $4: exit $1:"
            show "$2"
        fi
    fi
}

# heap_ioctl_range STEP LABEL: sets range and ioctl to the kernel's heap ioctl handler
# (ion_ioctl for the ION board, else dma_heap_ioctl) for require-start/end; false after
# reporting STEP skipped (no stack-trace filter) or failed (symbol missing).
heap_ioctl_range() {
    if [ ! -e "$DEBUGFS/fail_page_alloc/require-start" ]; then
        skip "$1" "kernel $KERNEL has no fault-injection stacktrace filter (x86_64 gets it from 5.12; arm64 has it)"
        return 1
    fi
    case $2 in
        ion) ioctl=ion_ioctl ;;
        *) ioctl=dma_heap_ioctl ;;
    esac
    range=$(function_range "$ioctl")
    if [ -z "$range" ]; then
        fail "$1" "$ioctl not found in /proc/kallsyms"
        return 1
    fi
}

# fault_step_begin STEP LABEL MODE: the set-up both fault steps share. False (STEP already
# reported) when gralloc or the service is missing, or MODE heap has no usable range. Sets
# range (heap mode), baseline, and zeroes the answer counters.
fault_step_begin() {
    need "$1" gralloc || return 1
    service_alive || {
        fail "$1" "no service running"
        return 1
    }
    range=""
    if [ "$3" = heap ]; then
        heap_ioctl_range "$1" "$2" || return 1
    fi
    baseline=$(svc_fd_count)
    dmesg -n 1
    ok=0
    refused=0
    transport=0
    other=0
}

# fault_step_end: injection off, console back, then the service's fds and dma-bufs (after).
fault_step_end() {
    echo 0 >"$DEBUGFS/failslab/probability"
    echo 0 >"$DEBUGFS/fail_page_alloc/probability"
    dmesg -n 7
    sleep 1
    after=$(svc_fd_count)
    dmabufs=$(svc_dmabufs)
}

# failslab and fail_page_alloc (10 %) aimed at the service's threads during a batch of
# allocations. MODE heap: only allocations made under the heap's ioctl (DMA_HEAP_IOCTL_ALLOC
# or ION_IOC_ALLOC) may fail, so every refusal must be NO_RESOURCES. MODE task: every kernel
# allocation of the service's threads may fail, binder's own reply path included, so a
# client may also see the kernel's FailedTransaction; never another error. Both: service
# alive, fd count unchanged, no dma-buf kept, serves normally afterwards.
step_fault_injection() {
    label=$1
    mode=$2
    step=$label-fault-$mode
    rounds=200
    fault_step_begin "$step" "$label" "$mode" || return
    # shellcheck disable=SC2086 # range is "START END" or empty
    set_fault failslab 10 $range
    # shellcheck disable=SC2086
    set_fault fail_page_alloc 10 $range
    set_make_it_fail 1
    i=0
    while [ "$i" -lt "$rounds" ] && service_alive; do
        i=$((i + 1))
        gralloc --connect binder alloc --width 256 --height 256 --format RGBA_8888 \
            --usage "$DEFAULT_USAGE" --count 2 >/dev/null 2>/tmp/fault.err
        rc=$?
        tally_answer "$rc" /tmp/fault.err "$([ "$mode" = task ] && echo yes)" "round $i"
    done
    set_make_it_fail 0
    fault_step_end
    injected=$(faults_injected)
    gralloc --connect binder alloc --width 256 --height 256 --format RGBA_8888 \
        --usage "$DEFAULT_USAGE" --count 2 >/dev/null 2>/tmp/fault.err
    clean_rc=$?
    scope="service threads"
    [ -n "$range" ] && scope="service threads under $ioctl"
    detail="$i rounds, 10 % faults in $scope: $ok ok, $refused NO_RESOURCES, $transport FailedTransaction, $other other; $injected faults injected; service fds $baseline -> $after, dma-bufs held $dmabufs; clean alloc after: exit $clean_rc"
    if ! service_alive; then
        show "$SVC_LOG"
        SVC=""
        fail "$step" "$detail; service died"
    elif [ "$other" -ne 0 ]; then
        fail "$step" "$detail; unexpected errors"
    elif [ "$injected" -le 0 ] || [ "$refused" -eq 0 ]; then
        fail "$step" "$detail; injection never reached an allocation"
    elif [ "$after" -ne "$baseline" ] || [ "$dmabufs" -ne 0 ]; then
        fail "$step" "$detail; service fds changed"
    elif [ "$clean_rc" -ne 0 ]; then
        show /tmp/fault.err
        fail "$step" "$detail; service does not recover"
    else
        pass "$step" "$detail"
    fi
}

# arm_fail_nth N TID...: the Nth fault-injectable allocation of each service thread fails
# (fail-nth counts down per thread; 0 disarms).
arm_fail_nth() {
    count=$1
    shift
    for tid in "$@"; do
        echo "$count" >"/proc/$SVC/task/$tid/fail-nth" 2>/dev/null
    done
}

# fail-nth sweep: one 64x64 allocate2 with its 1st, then 2nd, ... kernel allocation
# failing, until a call no longer reaches the armed one, so every allocation on the path
# fails once. MODE heap: failslab and fail_page_alloc, counting only allocations under the
# heap ioctl; every call must succeed or answer NO_RESOURCES. MODE slab: failslab on every
# slab allocation of the service's threads, binder's reply included, so the kernel's
# FailedTransaction is accepted too (page allocations stay out: failing a user page fault
# calls the OOM killer, which is kernel policy, not the service). Both: nothing lost, the
# last call succeeds.
step_fail_nth() {
    label=$1
    mode=$2
    step=$label-fail-nth-$mode
    fault_step_begin "$step" "$label" "$mode" || return
    # shellcheck disable=SC2086 # range is "START END" or empty
    set_fault failslab 0 $range
    if [ "$mode" = heap ]; then
        # shellcheck disable=SC2086
        set_fault fail_page_alloc 0 $range
    fi
    n=0
    reached=yes
    while [ "$reached" = yes ] && [ "$n" -lt 300 ] && service_alive; do
        n=$((n + 1))
        tids=$(ls "/proc/$SVC/task")
        note "$step: failing allocation $n"
        # shellcheck disable=SC2086 # one argument per thread id
        arm_fail_nth "$n" $tids
        timeout 30 gralloc --connect binder alloc $SMALL --usage "$DEFAULT_USAGE" \
            >/dev/null 2>/tmp/nth.err
        rc=$?
        # A thread whose count reached 0 took the injected failure during this call.
        reached=no
        for tid in $tids; do
            [ "$(cat "/proc/$SVC/task/$tid/fail-nth" 2>/dev/null)" = 0 ] && reached=yes
        done
        # shellcheck disable=SC2086
        arm_fail_nth 0 $tids
        tally_answer "$rc" /tmp/nth.err "$([ "$mode" = slab ] && echo yes)" "failing allocation $n"
    done
    fault_step_end
    # The last call reached no armed allocation: it is not one of the injected calls.
    [ "$reached" = no ] && [ "$rc" -eq 0 ] && ok=$((ok - 1))
    scope="slab allocations of the service threads"
    [ "$mode" = heap ] && scope="allocations under $ioctl"
    detail="failed each of the first $((n - 1)) $scope in turn: $ok still ok, $refused NO_RESOURCES, $transport FailedTransaction, $other other; call $n reached none and exited $rc; service fds $baseline -> $after, dma-bufs held $dmabufs"
    if ! service_alive; then
        show "$SVC_LOG"
        SVC=""
        fail "$step" "$detail; service died"
    elif [ "$reached" = yes ]; then
        fail "$step" "$detail; still reaching injected failures after $n calls"
    elif [ "$n" -lt 2 ]; then
        fail "$step" "$detail; no allocation on the path was ever failed"
    elif [ "$other" -ne 0 ]; then
        fail "$step" "$detail; unexpected errors"
    elif [ "$rc" -ne 0 ]; then
        fail "$step" "$detail; the call without injection failed"
    elif [ "$after" -ne "$baseline" ] || [ "$dmabufs" -ne 0 ]; then
        fail "$step" "$detail; service fds changed"
    else
        pass "$step" "$detail"
    fi
}

# F1/F2: a client maps buffers and writes a pattern, the service is killed (SIGKILL), the
# pattern must still be there; a restarted service serves again.
step_kill_restart() {
    label=$1
    board=$2
    step=$label-kill-restart
    need "$step" gralloc gralloc-allocator || return
    service_alive || {
        fail "$step" "no service running"
        return
    }
    : >/tmp/held.err
    gralloc --connect binder alloc --width 512 --height 512 --format RGBA_8888 \
        --usage GPU_TEXTURE,CPU_READ_OFTEN,CPU_WRITE_OFTEN --count 2 --hold 5 \
        >/tmp/held.out 2>/tmp/held.err &
    client=$!
    if ! wait_for_line /tmp/held.err 'holding' 30 "$client"; then
        wait "$client"
        show /tmp/held.err
        fail "$step" "client could not allocate and map its buffers"
        return
    fi
    kill -9 "$SVC"
    wait "$SVC" 2>/dev/null
    killed=$SVC
    SVC=""
    wait "$client"
    client_rc=$?
    show /tmp/held.err
    if [ "$client_rc" -ne 0 ] || ! grep -q 'pattern intact' /tmp/held.err; then
        fail "$step" "after SIGKILL of service $killed the client's buffers changed or failed (exit $client_rc)"
        return
    fi
    start_service "$label-restart-service" "$board" || {
        fail "$step" "service did not restart"
        return
    }
    if gralloc --connect binder alloc --width 64 --height 64 --format RGBA_8888 \
        --usage "$DEFAULT_USAGE" >/tmp/restart.out 2>&1; then
        pass "$step" "buffers stayed mapped and intact after SIGKILL of $killed; restarted service $SVC serves"
    else
        show /tmp/restart.out
        fail "$step" "restarted service does not serve"
    fi
}

# ---------------------------------------------------------------- reserve pool

# The class of the boards' camera pools, a camera buffer of another size (same rule and
# heap, never pooled), and the camera area's use in kB.
CAM_POOLED="--width 1920 --height 1080 --format NV21"
CAM_OTHER="--width 1280 --height 720 --format NV21"
camera_used_kb() { echo $(($(cat "$DEBUGFS/cma/camera/used") * 4)); }

# pool_field NAME FIELD: a number of pool NAME's `gralloc dump` line ("4 ready", "1 misses").
pool_field() {
    gralloc --connect binder dump 2>/dev/null | sed -n "s/^pool $1:.* \([0-9][0-9]*\) $2[,]*.*/\1/p" | head -n 1
}

# wait_pool_full NAME COUNT SECONDS: true once the pool has COUNT ready and none in refill.
wait_pool_full() {
    tries=$(($3 * 5))
    while [ "$tries" -gt 0 ]; do
        [ "$(pool_field "$1" ready)" = "$2" ] && [ "$(pool_field "$1" 'in refill')" = 0 ] && return 0
        sleep 0.2
        tries=$((tries - 1))
    done
    return 1
}

# bench_camera OUT: `gralloc bench` of the pool's class with 100 ms between calls (a camera
# frame interval order of magnitude: the pool refills in the pause); sets CAM_MEAN and
# CAM_MEDIAN (us). The mean is what the ratio uses: on a jiffies clocksource (TCG guests
# often fall back to it) each call reads 0 or a multiple of 4 ms, so medians of sub-tick
# calls are 0, while the mean of many calls stays unbiased.
bench_camera() {
    # shellcheck disable=SC2086 # CAM_POOLED is several arguments
    gralloc --connect binder bench $CAM_POOLED --usage CAMERA_OUTPUT --baseline dma-heap:camera \
        --iterations 60 --gap-ms 100 >"$1" 2>&1
    rc=$?
    show "$1"
    CAM_MEAN=$(sed -n 's/^service allocate2 .*: mean \([0-9.]*\) us,.*/\1/p' "$1")
    CAM_MEDIAN=$(sed -n 's/^service allocate2 .* median \([0-9.]*\) us,.*/\1/p' "$1")
    [ "$rc" -eq 0 ] && [ -n "$CAM_MEAN" ]
}

# The board's camera pool on the camera CMA area: (1) a pooled camera allocate2 against the
# same allocation from the area by a service whose board has no pool (the board file with
# its [[pools]] entry cut), same guest run, ratio printed; (2) the area fragmented by held
# camera buffers of another size: the first COUNT requests of the pool's class are still
# served from the area (by the pool), the next one falls back to system, and the pool
# refills once the holders are gone. Leaves a service with the pool running.
step_camera_pool() {
    label=$1
    board=$2
    step=$label-camera-pool
    need "$step" gralloc gralloc-allocator || return
    service_alive || {
        fail "$step" "no service running"
        return
    }
    line=$(gralloc --connect binder dump 2>/dev/null | grep '^pool .*: heap camera,' | head -n 1)
    pool=$(echo "$line" | sed -n 's/^pool \([^:]*\):.*/\1/p')
    count=$(echo "$line" | sed -n 's/.*, \([0-9]*\) x [0-9]* bytes,.*/\1/p')
    if [ -z "$pool" ] || [ -z "$count" ]; then
        fail "$step" "the service on $board has no pool on heap camera (dump: ${line:-nothing})"
        return
    fi
    note "$step: $line"
    if ! wait_pool_full "$pool" "$count" 30; then
        fail "$step" "pool $pool never filled: $(gralloc --connect binder dump 2>&1 | grep '^pool')"
        return
    fi

    misses_before=$(pool_field "$pool" misses)
    bench_camera /tmp/bench-pooled.out || {
        fail "$step" "bench against the pooled service did not run"
        return
    }
    pooled=$CAM_MEAN
    pooled_median=$CAM_MEDIAN
    misses=$(($(pool_field "$pool" misses) - misses_before))
    handouts=$(pool_field "$pool" hand-outs)

    # The same requests without a pool: the board file minus its [[pools]] entries.
    sed '/^\[\[pools\]\]/,/^$/d' "$board" >/tmp/nopool.toml
    kill -TERM "$SVC" 2>/dev/null
    wait "$SVC"
    SVC=""
    start_service "$label-nopool-service" /tmp/nopool.toml || return
    bench_camera /tmp/bench-unpooled.out
    unpooled_rc=$?
    unpooled=$CAM_MEAN
    unpooled_median=$CAM_MEDIAN
    kill -TERM "$SVC" 2>/dev/null
    wait "$SVC"
    SVC=""
    start_service "$label-pool-service" "$board" || return
    if [ "$unpooled_rc" -ne 0 ]; then
        fail "$step" "bench against the service without a pool did not run"
        return
    fi
    ratio=$(awk -v p="$pooled" -v u="$unpooled" 'BEGIN { printf "%.2f", p / u }')
    clock=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)
    bench="camera 1920x1080 NV21 allocate2 mean: pooled $pooled us, unpooled $unpooled us, ratio pooled/unpooled $ratio (target <= 0.2; medians $pooled_median / $unpooled_median us, clock $clock; $misses misses, $handouts hand-outs)"
    note "$step: $bench"
    wait_pool_full "$pool" "$count" 30 || {
        fail "$step" "$bench; restarted pool never filled"
        return
    }

    # Fragment the camera area: hold buffers of another size until one comes from system,
    # then release every other one.
    used_start=$(camera_used_kb)
    held=0
    i=0
    cam_holders=""
    while [ "$i" -lt 40 ]; do
        i=$((i + 1))
        : >/tmp/frag.$i.err
        # shellcheck disable=SC2086
        gralloc --connect binder alloc $CAM_OTHER --usage CAMERA_OUTPUT --json --hold 900 \
            >/tmp/frag.$i.json 2>/tmp/frag.$i.err &
        pid=$!
        if ! wait_for_line /tmp/frag.$i.err 'holding' 60 "$pid"; then
            show /tmp/frag.$i.err
            break
        fi
        if [ "$(json_field /tmp/frag.$i.json heap)" != camera ]; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            break
        fi
        held=$((held + 1))
        cam_holders="$cam_holders $pid"
    done
    used_full=$(camera_used_kb)
    n=0
    kept=""
    for pid in $cam_holders; do
        n=$((n + 1))
        if [ $((n % 2)) -eq 0 ]; then
            kill -TERM "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        else
            kept="$kept $pid"
        fi
    done
    used_fragmented=$(camera_used_kb)

    # The pool's class now: COUNT from the pool (heap camera), one more from system.
    : >/tmp/pooled.err
    # shellcheck disable=SC2086
    gralloc --connect binder alloc $CAM_POOLED --usage CAMERA_OUTPUT --count "$count" --json \
        --hold 3 >/tmp/pooled.json 2>/tmp/pooled.err &
    taker=$!
    wait_for_line /tmp/pooled.err 'holding' 60 "$taker"
    # shellcheck disable=SC2086
    gralloc --connect binder alloc $CAM_POOLED --usage CAMERA_OUTPUT --json \
        >/tmp/extra.json 2>/tmp/extra.err
    extra_rc=$?
    wait "$taker"
    taker_rc=$?
    from_camera=$(grep -c '"heap": "camera"' /tmp/pooled.json)
    extra_heap=$(json_field /tmp/extra.json heap)
    for pid in $kept; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $kept; do
        wait "$pid" 2>/dev/null
    done
    refilled=no
    wait_pool_full "$pool" "$count" 30 && refilled=yes
    dmabufs=$(svc_dmabufs)

    frag="$held x 1280x720 held (camera use $used_start -> $used_full kB), every other released ($used_fragmented kB): $from_camera of $count 1080p requests from camera, the next from ${extra_heap:-none}; pool refilled after release: $refilled"
    if [ "$held" -lt 2 ]; then
        fail "$step" "$bench; $frag; could not fill the camera area"
    elif [ "$taker_rc" -ne 0 ] || [ "$from_camera" -ne "$count" ]; then
        show /tmp/pooled.err
        fail "$step" "$bench; $frag; the pooled requests were not all served from the camera area"
    elif [ "$extra_rc" -ne 0 ] || [ "$extra_heap" != system ]; then
        show /tmp/extra.err
        fail "$step" "$bench; $frag; the request after the pool must fall back to system (the area is fragmented)"
    elif [ "$refilled" != yes ]; then
        fail "$step" "$bench; $frag"
    elif [ "$dmabufs" -ne 0 ]; then
        fail "$step" "$bench; $frag; service holds $dmabufs dma-bufs outside its pool"
    else
        pass "$step" "$bench; $frag"
    fi
}

faults() {
    service_alive || {
        fail "$1-faults" "no service running: fault steps not run"
        return
    }
    step_cma_exhaustion "$1" "$2"
    step_fault_injection "$1" heap
    step_fault_injection "$1" task
    step_fail_nth "$1" heap
    step_fail_nth "$1" slab
    step_kill_restart "$1" "$2"
}

# ---------------------------------------------------------------- plan

step_mounts
step_devices
step_heaps_test
if step_hub; then
    case $KERNEL in
        6.12 | arm64-6.12)
            # arm64-6.12 runs the same plan: the ioctl structs, binder's 64-bit protocol and
            # the mapper's DMA_BUF_IOCTL_SYNC on an arm64 kernel, as on a HiKey960.
            qemu_board=/boards/qemu-x86_64.toml
            [ "$KERNEL" = arm64-6.12 ] && qemu_board=/boards/qemu-arm64.toml
            if board_suite dmaheap "$qemu_board"; then
                step_bench dmaheap dma-heap:reserved dma-heap:system
                step_small_under_load dmaheap "$qemu_board"
                faults dmaheap "$qemu_board"
                step_camera_pool dmaheap "$qemu_board"
            fi
            stop_service dmaheap-stop
            # The shipped HiKey960 board file on a real kernel: its CMA heap resolves to
            # `reserved` here, its camera heap (and pool) to the cma_camera= area,
            # system-uncached is absent.
            board_suite hikey960 /boards/hikey960.toml
            stop_service hikey960-stop
            ;;
        5.10)
            if board_suite ion /boards/qemu-x86_64-ion.toml; then
                step_bench ion ion:reserved ion:ion_system_heap
                faults ion /boards/qemu-x86_64-ion.toml
            fi
            stop_service ion-stop
            board_suite dmaheap /boards/qemu-x86_64.toml
            stop_service dmaheap-stop
            ;;
        *)
            fail plan "no guest plan for kernel $KERNEL"
            ;;
    esac
fi

if [ "$fails" -eq 0 ]; then verdict=PASS; else verdict=FAIL; fi
mark summary "$verdict" "$passes passed, $fails failed, $skips skipped"
echo "VMTEST-END $KERNEL"
sync
reboot -f
