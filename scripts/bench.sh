#!/usr/bin/env bash
# Benchmark: one epoch of the seed model (batch 32) on the CPU, fashion-tui headless vs
# PyTorch eager in Python, same machine, same thread count. Reports seconds per epoch,
# images/s and peak resident memory (GNU time's max RSS). Not a test: figures go in the
# README. Then the dashboard's cost in training throughput (scripts/bench_dashboard.sh),
# and the tutorial and fast models in three minutes each (scripts/bench_models.sh).
# Usage: scripts/bench.sh [THREADS] [TRAIN_LIMIT]   (0 = all 60,000 images)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-$(nproc)}
limit=${2:-0}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cache=${FASHION_TUI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fashion-tui}
py="$cache/pytorch-2.13.0"
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }

if [ ! -f "$py/.complete" ]; then
  echo "bench: installing PyTorch 2.13.0 for Python into $py (once; the full CUDA wheels, ~4.6 GB, since PyPI's torch wheel links them)" >&2
  rm -rf "$py.partial"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$py.partial" torch==2.13.0 numpy
  touch "$py.partial/.complete" && rm -rf "$py" && mv "$py.partial" "$py"
fi

run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT

# Interleaved rounds (this kind of machine is noisy): the median of each side is reported.
rounds=${BENCH_ROUNDS:-3}
for r in $(seq "$rounds"); do
  echo "bench: round $r/$rounds: fashion-tui (release), then PyTorch eager, $threads thread(s)" >&2
  /usr/bin/time -v -o "$run_dir/ft$r.time" "$root/target/release/fashion-tui" train --json --device cpu \
    --threads "$threads" --epochs 1 --train-limit "$limit" --test-limit 1000 --data-dir "$data" \
    --run-dir "$run_dir/run$r" 2>/dev/null | head -n 1 > "$run_dir/ft$r.json"
  PYTHONPATH="$py" /usr/bin/time -v -o "$run_dir/pt$r.time" python3 "$root/scripts/bench_pytorch.py" \
    "$data" "$threads" "$limit" > "$run_dir/pt$r.json"
done

python3 - "$run_dir" "$rounds" <<'PY'
import json, re, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
def rss(p):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read()).group(1)) / 1024
ft = [json.load(open(f"{d}/ft{r}.json")) for r in range(1, n + 1)]
pt = [json.load(open(f"{d}/pt{r}.json")) for r in range(1, n + 1)]
fs, ps = [x["seconds"] for x in ft], [x["seconds"] for x in pt]
fm, pm = max(rss(f"{d}/ft{r}.time") for r in range(1, n + 1)), max(rss(f"{d}/pt{r}.time") for r in range(1, n + 1))
imgs = ft[0]["images_per_sec"] * ft[0]["seconds"]
print(f"{'':14}{'s/epoch (median)':>18}{'all rounds':>26}{'peak RSS':>11}")
print(f"{'fashion-tui':14}{statistics.median(fs):>18.1f}{' '.join(f'{x:.1f}' for x in fs):>26}{fm:>8.0f} MB")
print(f"{'PyTorch eager':14}{statistics.median(ps):>18.1f}{' '.join(f'{x:.1f}' for x in ps):>26}{pm:>8.0f} MB")
print(f"{round(imgs)} images per epoch; fashion-tui takes {statistics.median(fs) / statistics.median(ps):.2f}x PyTorch's time and {fm / pm:.2f}x its peak memory")
PY

# The dashboard's cost in training throughput.
bash "$root/scripts/bench_dashboard.sh" "$threads"

# The tutorial and fast models under a three-minute budget (scripts/bench_models.sh).
bash "$root/scripts/bench_models.sh" "$threads" 3m
