#!/usr/bin/env bash
# Benchmark: the tutorial model trained as the README reports it: 10 epochs on the
# real Fashion-MNIST, CPU, seed 42, headless --json, release build. Prints the per-epoch
# table as markdown rows (paste into the README's "The model and what it reaches"), the
# seconds per epoch (mean, range), the peak resident memory (GNU time's max RSS of the
# whole process) and the dataset's load time. Not a test.
# Usage: scripts/bench_accuracy.sh [THREADS] [EPOCHS] [TRAIN_LIMIT] [SEED]   (0 = all images)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/cpu.sh"
echo "CPU: $(cpu_name)"
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
threads=${1:-$(nproc)}
epochs=${2:-10}
limit=${3:-0}
seed=${4:-42}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "bench: the tutorial model, $epochs epoch(s), seed $seed, $threads thread(s), train limit $limit (0 = all)" >&2
/usr/bin/time -v -o "$work/time" "$bin" train --json --device cpu --threads "$threads" \
  --epochs "$epochs" --seed "$seed" --train-limit "$limit" --data-dir "$data" \
  --run-dir "$work/run" > "$work/out.jsonl" 2> "$work/err" \
  || { cat "$work/err" >&2; exit 1; }

python3 - "$work" "$threads" "$seed" "$limit" <<'PY'
import json, re, sys
d, threads, seed, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = [json.loads(l) for l in open(f"{d}/out.jsonl")]
# Epoch lines say "event": "epoch" (older binaries said no event); the last line is "done".
epochs = [l for l in lines if "epoch" in l and l.get("event", "epoch") == "epoch"]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{d}/time").read()).group(1)) / 1024
load = re.search(r"loaded .* in ([0-9.]+)s", open(f"{d}/err").read())
secs = [e["seconds"] for e in epochs]
print(f"== the tutorial model: {len(epochs)} epochs, seed {seed}, CPU, {threads} thread(s)"
      + (f", first {limit} training images" if limit else ""))
print("| epoch | train loss | train acc | test loss | test acc |")
print("| ---: | ---: | ---: | ---: | ---: |")
for e in epochs:
    print(f"| {e['epoch']} | {e['train_loss']:.4f} | {100 * e['train_acc']:.2f}% "
          f"| {e['test_loss']:.4f} | {100 * e['test_acc']:.2f}% |")
print(f"final test accuracy {100 * epochs[-1]['test_acc']:.2f}%; "
      f"{sum(secs) / len(secs):.1f} s per epoch on average ({min(secs):.1f}-{max(secs):.1f} s); "
      f"peak RSS {rss:.0f} MB (the whole process)")
if load:
    print(f"dataset load: {float(load.group(1)):.2f} s")
PY
