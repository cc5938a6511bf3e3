#!/usr/bin/env bash
# entropycam's forward pass against ONNX Runtime 1.20.1 on the same MobileNetV2 float weights, in one run:
# batch 1 with 1 and 2 threads, batch 8 with 2 threads (per image). Each case runs our Google Benchmark
# (Model/forward_to_logits/fused:2, the planned, fused forward that classify and evaluate run; median of REPS
# repetitions) right before ../shared/peers/ort-bench.sh (median of ORT_ITERS runs),
# so both see the same machine load; compare the ratios, not the absolute times, on a shared machine.
# Both run with their default thread waiting: ONNX Runtime's pool spins between ops, and so does libgomp unless
# OMP_WAIT_POLICY says otherwise, so the script clears the passive policy the Makefile exports for the tests
# (set WAIT_POLICY=passive to keep it: then every OpenMP region pays a futex wake-up, 3-5 ms per forward here).
# The goal of issue 11 is a ratio (entropycam / ONNX Runtime) of at most 0.9 in every case.
# usage: bench/vs_ort.sh   (env: BUILD=build, ENTROPYCAM_SHARED=../shared, ROUNDS=3, REPS=5, ORT_ITERS=50,
#                          CASES="1:1 2:1 2:8" as THREADS:BATCH)
# Needs node and npm (ort-bench.sh installs onnxruntime-node into a cache folder on first use).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
shared=${ENTROPYCAM_SHARED:-$root/../shared}
reps=${REPS:-5}
ort_iters=${ORT_ITERS:-50}
rounds=${ROUNDS:-3}
bench="$build/entropycam_bench"
[ -x "$bench" ] || { echo "vs_ort.sh: $bench is not built (make BUILD=$build $bench)" >&2; exit 1; }
[ -x "$shared/peers/ort-bench.sh" ] || { echo "vs_ort.sh: no $shared/peers/ort-bench.sh (set ENTROPYCAM_SHARED)" >&2; exit 1; }
command -v node >/dev/null || { echo "vs_ort.sh: node is needed (apt-get install nodejs npm)" >&2; exit 1; }
export ENTROPYCAM_SHARED="$shared"
if [ -n "${WAIT_POLICY:-}" ]; then export OMP_WAIT_POLICY="$WAIT_POLICY"; else unset OMP_WAIT_POLICY; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ours THREADS BATCH: median wall time in ms of one forward of the batch.
ours() {
  OMP_NUM_THREADS=$1 "$bench" --benchmark_filter="^Model/forward_to_logits/fused:2/batch:$2/real_time\$" --benchmark_repetitions="$reps" \
    --benchmark_min_time=0.5 --benchmark_out="$tmp/ours.json" --benchmark_out_format=json >/dev/null 2>"$tmp/ours.err" ||
    { cat "$tmp/ours.err" >&2; return 1; }
  node -e '
    const r = require(process.argv[1]).benchmarks.find((b) => b.aggregate_name === "median");
    if (!r || r.error_occurred) { console.error("vs_ort.sh: no median in the benchmark output"); process.exit(1); }
    const scale = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[r.time_unit];
    console.log((r.real_time * scale).toFixed(3));' "$tmp/ours.json"
}

# ort THREADS BATCH: median wall time in ms of one forward of the batch under ONNX Runtime.
ort() {
  "$shared/peers/ort-bench.sh" "$2" "$ort_iters" "$1" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).median_ms.toFixed(3)));'
}

echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset: libgomp spins, then sleeps)}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# ROUNDS rounds, each running every case ours-then-ORT, so that a slow minute of a shared VM hits both sides:
# the table gives each side's median over the rounds, their ratio, and the range of the per-round ratios.
cases=${CASES:-"1:1 2:1 2:8"}
declare -A mine theirs
for r in $(seq "$rounds"); do
  for c in $cases; do
    t=${c%%:*} n=${c##*:}
    mine[$c]="${mine[$c]:-} $(ours "$t" "$n")"
    theirs[$c]="${theirs[$c]:-} $(ort "$t" "$n")"
  done
  echo "round $r of $rounds done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
printf '%-24s %14s %14s %8s %14s\n' case "entropycam ms" "ORT ms" ratio "round ratios"
status=0
for c in $cases; do
  t=${c%%:*} n=${c##*:}
  label="batch $n, $t thread(s)"
  [ "$n" -gt 1 ] && label="$label, /img"
  line=$(node -e '
    const med = (v) => { v = [...v].sort((a, b) => a - b); const h = v.length >> 1; return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2; };
    const a = process.argv[1].trim().split(/\s+/).map(Number), b = process.argv[2].trim().split(/\s+/).map(Number), n = Number(process.argv[3]);
    const per = a.map((x, i) => x / b[i]);
    console.log([(med(a) / n).toFixed(3), (med(b) / n).toFixed(3), (med(a) / med(b)).toFixed(2),
                 Math.min(...per).toFixed(2) + "-" + Math.max(...per).toFixed(2)].join(" "));' "${mine[$c]}" "${theirs[$c]}" "$n")
  set -- $line
  printf '%-24s %14s %14s %8s %14s\n' "$label" "$1" "$2" "$3" "$4"
  node -e "process.exit(${3} <= 0.9 ? 0 : 1)" || status=1
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$status" = 0 ] && echo "every ratio <= 0.9" || echo "some ratio > 0.9 (target of issue 11: <= 0.9)"
