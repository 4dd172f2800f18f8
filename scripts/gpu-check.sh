#!/usr/bin/env bash
# One run on a GPU machine (CUDA LibTorch, no network), after scripts/gpu-stage.sh staged .devdeps/ here:
# builds `caspl` against the machine's LibTorch and the staged dependencies and runs `caspl bench` first (the
# figures come back even if something later fails), then builds the rest and runs the tests (not the `slow` label).
# Everything goes to $OUT (default /tmp/caspl-gpu): gpu-check.log (this output), configure.log, build.log,
# ctest.log, bench.jsonl, bench.err. Exit status: 0 when all of it passed.
# The script keeps within CASPL_GPU_TOTAL_S: the builds, the bench and the tests each get what is left (less what
# the steps after them need), so the figures and the last line ("done, rc=") come back. Only the configure steps
# (seconds) have no limit of their own.
# Where the full configure fails (Qt, QCustomPlot or the test dependencies not found there), `caspl` alone is
# configured again without the desktop and the tests, so the figures still come.
#   CASPL_GPU_BUILD       build folder (default build-gpu)
#   CASPL_GPU_JOBS        build jobs (default: all cores)
#   CASPL_GPU_TOTAL_S     time for the whole script in seconds (default 500: set it a little below the time the
#                         machine is yours, leaving room for copying the results back)
#   CASPL_GPU_BENCH_S     time limit of the benchmark in seconds (default 200)
#   CASPL_GPU_CTEST_S     most time the tests may take in seconds (default 240, less when less is left)
#   CASPL_GPU_BENCH_ARGS  extra arguments to `caspl bench` (e.g. "--only step")
set -uo pipefail
cd "$(dirname "$0")/.."
O=${OUT:-/tmp/caspl-gpu}
BUILD=${CASPL_GPU_BUILD:-build-gpu}
mkdir -p "$O"
exec > >(tee "$O/gpu-check.log") 2>&1
tee_pid=$!
t0=$(date +%s)
TOTAL=${CASPL_GPU_TOTAL_S:-500}
say() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }
left() { echo $(( TOTAL - ($(date +%s) - t0) )); }
# Seconds a step may take: what is left less `reserve` (for the steps after it), at most `cap`, at least 10.
budget() {
  local reserve=$1 cap=${2:-100000} b
  b=$(( $(left) - reserve ))
  [ "$b" -le "$cap" ] || b=$cap
  [ "$b" -ge 10 ] || b=10
  echo "$b"
}
# The last line, then the log's writer is waited for, so gpu-check.log ends with it.
finish() {
  say "done, rc=$1"
  exec >&- 2>&-
  wait "$tee_pid" 2>/dev/null
  exit "$1"
}

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || true
g++ --version | head -1; cmake --version | head -1

say "dependencies"
if [ ! -f .devdeps/gpu-env.sh ] || [ ! -f .devdeps/caspl-deps.tar.xz ]; then
  echo "gpu-check.sh: .devdeps/ is not staged: run scripts/gpu-stage.sh on the dev machine and copy .devdeps/ along" >&2
  finish 1
fi
# shellcheck disable=SC1091
source .devdeps/gpu-env.sh || finish 1
P=${DEVDEPS_PREFIX:-/opt/devdeps}
qtdeps=$P/qt6/lib/x86_64-linux-gnu/qtdeps
mkdir -p "$P/caspl/lib"
for l in icuuc icui18n icudata; do       # link and run against the ICU 72 that the bundle's Qt brings
  ln -sf "$qtdeps/lib$l.so.72" "$P/caspl/lib/lib$l.so.72"
  ln -sf "lib$l.so.72" "$P/caspl/lib/lib$l.so"
done
export CMAKE_PREFIX_PATH="$P/caspl${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
if [ -d .devdeps/fixtures ]; then export CASPL_FIXTURES="$PWD/.devdeps/fixtures"; fi

rc=0
say "configure"
full=1
if ! devdeps_configure "$BUILD" -DICU_ROOT="$P/caspl" > "$O/configure.log" 2>&1; then
  tail -40 "$O/configure.log"
  say "configure again: caspl alone, without the desktop and the tests"
  rc=1
  full=0
  rm -f "$BUILD/CMakeCache.txt"
  if ! devdeps_configure "$BUILD" -DICU_ROOT="$P/caspl" -DCASPL_BUILD_GUI=OFF -DCASPL_BUILD_TESTS=OFF \
       >> "$O/configure.log" 2>&1; then
    tail -40 "$O/configure.log"; finish 1
  fi
fi
grep -E '^-- CasPL' "$O/configure.log"

say "build caspl"
# Time for the bench (60 s at least) and the summary is kept back.
if ! timeout -k 10 "$(budget 80)" cmake --build "$BUILD" -j"${CASPL_GPU_JOBS:-$(nproc)}" --target caspl > "$O/build.log" 2>&1; then
  grep -E 'error|Error' -A4 "$O/build.log" | head -120; finish 1
fi
ldd "$BUILD/app/caspl" | grep -E 'torch_cuda|cudart|icuuc|not found' || true
"$BUILD/app/caspl" --version

say "bench"
# On the GPU only: a CUDA LibTorch that cannot reach the device fails here (bench.err says why) instead of giving
# the CPU's tiny figures.
# shellcheck disable=SC2086
timeout -k 10 "$(budget 20 "${CASPL_GPU_BENCH_S:-200}")" "$BUILD/app/caspl" bench --json --device cuda ${CASPL_GPU_BENCH_ARGS:-} \
  > "$O/bench.jsonl" 2> "$O/bench.err" || rc=1
python3 - "$O/bench.jsonl" <<'PY' || cat "$O/bench.jsonl"
import json, sys
# The targets of the speed issue (H200, bf16): figure prefix -> (bound, '>=' or '<=').
targets = {"encode_image.vit_b16": (12000, ">="), "encode_image.vit_l14": (3000, ">="), "step.coop": (12, "<="),
           "step.promptsrc.b4": (16, "<="), "epoch.caspl_phase1": (6.5, "<="),
           "memory.promptsrc_caspl": (24e9 / 2**20, "<=")}
for line in open(sys.argv[1]):
    j = json.loads(line)
    keys = ("captured", "capture_error", "classes", "text_chunk", "peak_gpu_mib", "teacher_s", "share_of_block", "tflops", "gbps",
            "sum_of_parts_ms", "img_s_from_blocks", "unfused_ms", "replaces_ms", "fused_residual", "fused_residual_error")
    if "error" in j:
        print(f"{j['figure']:<36} ERROR: {j['error']}")
        continue
    extra = {k: (round(j[k], 3) if isinstance(j[k], float) else j[k]) for k in keys if k in j}
    verdict = ""
    base = j["figure"].removesuffix(".unfused").removesuffix(".graph").removesuffix(".cached")
    if base in targets and not j.get("tiny"):
        bound, op = targets[base]
        ok = j["value"] >= bound if op == ">=" else j["value"] <= bound
        verdict = f"target {op} {bound:g}: {'MET' if ok else 'missed'}"
    print(f"{j['figure']:<36} {j['value']:>12.2f} {j['unit']:<9} batch {j['batch']:<4} {verdict} {extra}")
PY
tail -5 "$O/bench.err"
[ "$full" = 1 ] || finish 1

say "build the rest"
if ! timeout -k 10 "$(budget 20)" cmake --build "$BUILD" -j"${CASPL_GPU_JOBS:-$(nproc)}" >> "$O/build.log" 2>&1; then
  grep -E 'error|Error' -A4 "$O/build.log" | head -120; finish 1
fi

# What is left of the total, less 25 s for the summary, at most CASPL_GPU_CTEST_S. Four tests at once, each with
# a quarter of the cores' threads.
ctest_s=$(( $(left) - 25 ))
if [ "$ctest_s" -gt "${CASPL_GPU_CTEST_S:-240}" ]; then ctest_s=${CASPL_GPU_CTEST_S:-240}; fi
if [ "$ctest_s" -lt 30 ]; then
  say "tests skipped: ${ctest_s}s left of ${TOTAL}s"
  finish 1
fi
say "tests (${ctest_s}s at most)"
threads=$(( $(nproc) / 4 )); [ "$threads" -ge 1 ] || threads=1
ctest_rc=0
rm -f "$BUILD/Testing/Temporary/LastTest.log"  # an earlier run's, read below
# --stop-time ends the tests (their own 600 s limits included) in time for ctest's summary; the outer timeout is
# the last resort.
OMP_NUM_THREADS=$threads timeout -k 10 $(( ctest_s + 10 )) ctest --test-dir "$BUILD" -LE slow -j4 \
  --stop-time "$(date -d "+${ctest_s} seconds" +%H:%M:%S)" --output-on-failure > "$O/ctest.log" 2>&1 || ctest_rc=$?
[ "$ctest_rc" = 0 ] || rc=1
grep -E 'tests passed|tests failed|Failed|Timeout|\*\*\*' "$O/ctest.log" | head -40
if [ "$ctest_rc" = 124 ] || [ "$ctest_rc" = 137 ]; then  # no summary of its own: what had finished
  echo "tests stopped at ${ctest_s}s: $(grep -cE 'Test +#[0-9]+: .* Passed' "$O/ctest.log") passed before then;" \
       "not finished: $(grep -oE 'Start +[0-9]+: [A-Za-z0-9_]+' "$O/ctest.log" | awk '{print $3}' | sort |
                        comm -23 - <(grep -oE 'Test +#[0-9]+: [A-Za-z0-9_]+' "$O/ctest.log" | awk '{print $3}' | sort) | tr '\n' ' ')"
fi
# The CUDA-only test functions (they skip without a device): show what they printed.
grep -hiE 'cuda|graph vs eager' "$BUILD/Testing/Temporary/LastTest.log" 2>/dev/null | grep -E 'PASS|FAIL|SKIP|QINFO' | head -40

finish "$rc"
