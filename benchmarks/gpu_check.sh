#!/usr/bin/env bash
# sorix on a real GPU, in one command: install what is missing, record the machine,
# run the CUDA test modules on the device, time the GPU benchmark cases, and write
# one report.
#
#   bash benchmarks/gpu_check.sh OUTDIR [--wheels DIR] [--dry-run]
#
# OUTDIR receives gpu_check.md (environment, step table, pytest summary, benchmark
# table) and three logs beside it: setup.log, pytest.log, bench.log.
#
# --wheels DIR  install nvmath-python (and those of its requirements the machine lacks
#               or has too old) from the wheels in DIR, with pip --no-index --no-deps,
#               into a private folder put on PYTHONPATH. Without it, a real-GPU run
#               fetches the same wheels from the package index (when it can). A numpy
#               wheel in DIR is installed only when the machine's numba-cuda fails to
#               import with its own numpy (a numpy newer than numba-cuda supports).
# --dry-run     no GPU needed: everything runs under numba's CUDA simulator on tiny
#               sizes (two CUDA test modules, the benchmark table in tiny sizes), in
#               under two minutes. Its times mean nothing; it checks the plumbing.
#
# Without --dry-run it refuses to start when nvidia-smi sees no GPU. Every step runs
# under a hard time limit (the tests and benchmarks share a 6-minute budget) and
# prints only the end of its log, so the check ends in about six minutes at most,
# whatever hangs. Environment: PYTHON (default python3).
set -u -o pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

OUTDIR="" WHEELS="" DRY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --wheels) [ $# -ge 2 ] || usage; WHEELS="$2"; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        -h|--help) usage ;;
        -*) echo "gpu_check: unknown option $1" >&2; usage ;;
        *) [ -z "$OUTDIR" ] || usage; OUTDIR="$1"; shift ;;
    esac
done
[ -n "$OUTDIR" ] || usage

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
mkdir -p "$OUTDIR" && OUTDIR="$(cd "$OUTDIR" && pwd)" || exit 2
[ -z "$WHEELS" ] || WHEELS="$(cd "$WHEELS" 2>/dev/null && pwd)" || {
    echo "gpu_check: --wheels: no folder $WHEELS" >&2; exit 2; }
REPORT="$OUTDIR/gpu_check.md" SETUP_LOG="$OUTDIR/setup.log"
TEST_LOG="$OUTDIR/pytest.log" BENCH_LOG="$OUTDIR/bench.log"
rm -f "$REPORT" "$SETUP_LOG" "$TEST_LOG" "$BENCH_LOG"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STEPS="$WORK/steps.tsv" SITE="$WORK/site"
: >"$STEPS"
START=$(date +%s)
cd "$ROOT" || exit 2

# The whole check's time budget (seconds): the tests and the benchmarks get what the set-up
# leaves, each within its own limit and with at least 30 s.
TOTAL=$([ "$DRY" = 1 ] && echo 240 || echo 360)
# limit_for MAX RESERVE: MAX, or less so that RESERVE seconds stay for the steps after it.
limit_for() {
    local limit=$((START + TOTAL - $(date +%s) - $2))
    [ "$limit" -le "$1" ] || limit="$1"
    [ "$limit" -ge 30 ] || limit=30
    echo "$limit"
}

# A log keeps its first 1 MiB and last 3 MiB: enough for any summary, bounded on disk.
cap_log() {
    local size
    size=$(wc -c <"$1")
    if [ "$size" -gt 4194304 ]; then
        { head -c 1048576 "$1"; printf '\n[... %s bytes cut ...]\n' "$((size - 4194304))"
          tail -c 3145728 "$1"; } >"$1.cut" && mv "$1.cut" "$1"
    fi
}

# run_step NAME SECONDS LOG COMMAND...: run under a hard limit, record exit status and
# duration, print the log's last lines (each cut to 240 characters).
run_step() {
    local name="$1" limit="$2" log="$3" t0 rc
    shift 3
    t0=$(date +%s)
    echo "== $name (limit ${limit}s)" >>"$log"
    timeout -k 15 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    cap_log "$log"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" >>"$STEPS"
    echo "== $name: exit $rc after $(($(date +%s) - t0)) s (log: $(basename "$log"))"
    tail -n 12 "$log" | cut -c1-240
    return "$rc"
}

# ---- the device ---------------------------------------------------------------------------
export PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR="$WORK/numba-cache"
if [ "$DRY" = 1 ]; then
    export NUMBA_ENABLE_CUDASIM=1
    MODE="dry run: numba's CUDA simulator, tiny sizes (times mean nothing)"
    SMI="none (dry run)"
else
    unset NUMBA_ENABLE_CUDASIM
    if ! SMI="$(timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total \
                --format=csv,noheader 2>&1)" || [ -z "$SMI" ]; then
        echo "gpu_check: nvidia-smi sees no GPU (${SMI:-no output}); use --dry-run to" \
             "check the code under numba's simulator" >&2
        exit 2
    fi
    MODE="real GPU"
fi
echo "gpu_check: $MODE; device: $SMI"

# ---- install ------------------------------------------------------------------------------
if [ -z "$WHEELS" ] && [ "$DRY" = 0 ]; then
    # no wheels given: fetch nvmath-python and the requirements it may lack (no network: fails
    # fast, and matmul keeps sorix's tiled kernel)
    mkdir -p "$WORK/wheels"
    run_step "download wheels" 60 "$SETUP_LOG" "$PY" -m pip download -q --no-deps \
        --only-binary=:all: --retries 0 --timeout 15 -d "$WORK/wheels" \
        nvmath-python cuda-core cuda-pathfinder && WHEELS="$WORK/wheels"
fi
if [ -n "$WHEELS" ]; then
    PLAN="$(PYTHONPATH="$ROOT" timeout 60 "$PY" benchmarks/gpu_env.py wheels "$WHEELS" \
            2>>"$SETUP_LOG")"
    if [ -n "$PLAN" ]; then
        # shellcheck disable=SC2086  # one wheel path a line, no spaces (made by pip)
        run_step "install wheels" 90 "$SETUP_LOG" "$PY" -m pip install -q --no-index \
            --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $PLAN
    else
        echo "gpu_check: nothing to install from $WHEELS" | tee -a "$SETUP_LOG"
    fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -d "$SITE" ]; then
    # Keep the wheels unless numba-cuda works without them and fails with them (a newer
    # copy of a package it shares with nvmath-python could do that).
    PROBE="from numba import cuda; assert cuda.is_available(), 'no GPU'; cuda.current_context()"
    probe() { timeout 60 "$PY" -c "$PROBE" >>"$SETUP_LOG" 2>&1; }
    if [ "$DRY" = 0 ] && ! PYTHONPATH="$SITE:$PYTHONPATH" probe && probe; then
        echo "gpu_check: numba-cuda fails with the installed wheels on PYTHONPATH: running" \
             "without them (matmul falls back to sorix's tiled kernel)" | tee -a "$SETUP_LOG"
    else
        export PYTHONPATH="$SITE:$PYTHONPATH"
    fi
fi

# ---- environment ----------------------------------------------------------------------------
run_step environment 90 "$SETUP_LOG" "$PY" benchmarks/gpu_env.py env
sed -n '/^== environment (limit/,$p' "$SETUP_LOG" | grep '^- ' >"$WORK/env.md"

# ---- the CUDA test modules on the device ---------------------------------------------------------
if [ "$DRY" = 1 ]; then
    TESTS=(tests/test_cuda_cublas.py tests/test_cuda_device_index.py)
    TEST_ENV=(env) TEST_LIMIT=$(limit_for 120 90)
else
    TESTS=(tests/test_cuda_*.py)
    TEST_ENV=(env SORIX_TEST_CUDA=gpu) TEST_LIMIT=$(limit_for 210 150)
fi
# One line per test (-v, pyproject's -q dropped), so a run stopped by its time limit
# still shows what passed and failed; a summary of failures at the end.
PYTEST_OPTS=(-o addopts= -v -rfE --tb=short -p no:cacheprovider)
if "$PY" -c "import pytest_timeout" 2>/dev/null; then PYTEST_OPTS+=(--timeout=90); fi
# Workers compile their kernels in parallel (compilation is most of a first run's time).
if [ "$DRY" = 0 ] && "$PY" -c "import xdist" 2>/dev/null; then PYTEST_OPTS+=(-n 8); fi
run_step "CUDA tests" "$TEST_LIMIT" "$TEST_LOG" "${TEST_ENV[@]}" "$PY" -m pytest \
    "${PYTEST_OPTS[@]}" "${TESTS[@]}"

# ---- benchmarks -------------------------------------------------------------------------------
BENCH_OPTS=(--device cuda --out "$WORK/bench.md")
if [ "$DRY" = 1 ]; then BENCH_OPTS+=(--dry-run); BENCH_LIMIT=$(limit_for 90 5)
else BENCH_LIMIT=$(limit_for 180 5); fi
run_step benchmarks "$BENCH_LIMIT" "$BENCH_LOG" "$PY" benchmarks/compare.py "${BENCH_OPTS[@]}"

# ---- the report -------------------------------------------------------------------------------
FAILED=0
{
    echo "# sorix GPU check"
    echo
    echo "- mode: $MODE; $(date -u '+%Y-%m-%d %H:%M UTC'); $(($(date +%s) - START)) s in all"
    echo "- nvidia-smi: $SMI"
    cat "$WORK/env.md"
    echo
    echo "| step | exit status | seconds |"
    echo "|---|---|---:|"
    while IFS=$'\t' read -r name rc seconds; do
        case "$rc" in
            0) status="ok" ;;
            124|137) status="TIMED OUT ($rc)" ;;
            *) status="FAILED ($rc)" ;;
        esac
        [ "$rc" = 0 ] || FAILED=1
        echo "| $name | $status | $seconds |"
    done <"$STEPS"
    echo
    echo "## CUDA tests (${TESTS[*]})"
    echo
    SUMMARY="$(grep -E '^=+ .*[0-9]+ (passed|failed|errors?|skipped)' "$TEST_LOG" | tail -n 1)"
    if [ -n "$SUMMARY" ]; then
        echo "$SUMMARY"
        FAILURES="$(grep -E '^(FAILED|ERROR) ' "$TEST_LOG" | cut -c1-300)"
    else  # stopped before pytest's summary: count the per-test lines
        echo "no pytest summary (stopped?): $(grep -cE ' PASSED( |$)' "$TEST_LOG") passed," \
             "$(grep -cE ' (FAILED|ERROR)( |$)' "$TEST_LOG") failed or errors so far"
        FAILURES="$(grep -E ' (FAILED|ERROR)( |$)' "$TEST_LOG" | cut -c1-300)"
    fi
    if [ -n "$FAILURES" ]; then
        echo
        echo '```'
        echo "$FAILURES" | head -n 40
        [ "$(echo "$FAILURES" | wc -l)" -le 40 ] || echo "... (more in pytest.log)"
        echo '```'
    fi
    echo
    echo "## Benchmarks"
    echo
    if [ -s "$WORK/bench.md" ]; then cat "$WORK/bench.md"; else echo "no table: see bench.log"; fi
} >"$REPORT"
cat "$REPORT"
exit "$FAILED"
