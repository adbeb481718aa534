#!/usr/bin/env bash
# Benchmark: the `tutorial` and `fast` models under the same wall-time budget on the CPU,
# release build, headless, full 60,000 / 10,000 images, three seeds each. Reports per run
# the seconds from the first batch to 90% test accuracy (evaluating twice an epoch
# during the first two epochs, then at epoch ends), the first time at 93% and 94%,
# the accuracy at the end, the wall time of the whole process and its peak RSS (GNU time
# when present, else the kernel's high-water mark), then the median per model, as markdown
# rows. Not a test: the figures go in the README.
# Usage: scripts/bench_models.sh [THREADS] [BUDGET] [SEEDS...]   (defaults: 2, 3m, 1 2 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/cpu.sh"
echo "CPU: $(cpu_name)"
threads=${1:-2}
budget=${2:-3m}
shift $(( $# > 2 ? 2 : $# )) || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
models=${BENCH_MODELS:-tutorial fast}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
bin="$root/target/release/fashion-tui"
[ -x "$bin" ] || { echo "bench_models: build first (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Run "$@" with stdout to $out; write "<wall seconds> <peak RSS KiB>" to $stats.
measure() {
  local out=$1 stats=$2; shift 2
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%e %M" -o "$stats" "$@" > "$out" 2>"$out.err"
  else
    # No GNU time: poll the process's VmHWM (its peak RSS) from /proc while it runs.
    local start end peak=0 hwm
    start=$(date +%s.%N)
    "$@" > "$out" 2>"$out.err" &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
      sleep 0.2
    done
    wait "$pid"
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc) $peak" > "$stats"
  fi
}

for model in $models; do
  for seed in "${seeds[@]}"; do
    echo "bench_models: $model, seed $seed, budget $budget, $threads thread(s)" >&2
    measure "$work/$model-$seed.jsonl" "$work/$model-$seed.stats" \
      "$bin" train --json --device cpu --threads "$threads" --model "$model" --seed "$seed" \
      --time-budget "$budget" --eval-every 0.5 --eval-until 2 --data-dir "$data" --run-dir "$work/run-$model-$seed"
  done
done

python3 - "$work" "$models" "${seeds[@]}" <<'PY'
import json, statistics, sys
work, models, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| model | seed | s to 90% | s to 93% | s to 94% | test acc at end | plain (no TTA) | wall s | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|")

def first(evals, level):
    return next((l["elapsed"] for l in evals if l["test_acc"] >= level), None)

def median_text(times):
    reached = [t for t in times if t is not None]
    if not reached:
        return "never"
    text = f"{statistics.median(reached):.1f}"
    return text if len(reached) == len(times) else f"{text} ({len(reached)}/{len(times)})"

summary = []
for m in models:
    accs, walls, rss = [], [], []
    times = {0.90: [], 0.93: [], 0.94: []}
    for s in seeds:
        lines = [json.loads(l) for l in open(f"{work}/{m}-{s}.jsonl") if l.strip()]
        evals = [l for l in lines if "test_acc" in l and l.get("event") != "done"]
        last = evals[-1]
        wall, kib = open(f"{work}/{m}-{s}.stats").read().split()
        accs.append(last["test_acc"]); walls.append(float(wall)); rss.append(int(kib) / 1024)
        cells = []
        for level, got in times.items():
            t = first(evals, level)
            got.append(t)
            cells.append(f"{t:.1f}" if t is not None else "never")
        print(f"| {m} | {s} | {' | '.join(cells)} | {last['test_acc']*100:.2f}% | {last['test_acc_plain']*100:.2f}% | {float(wall):.1f} | {int(kib)/1024:.0f} |")
    cells = " | ".join(median_text(t) for t in times.values())
    summary.append(f"| {m} | median | {cells} | {statistics.median(accs)*100:.2f}% | | {statistics.median(walls):.1f} | {max(rss):.0f} |")
print("\n".join(summary))
PY
