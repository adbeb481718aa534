#!/usr/bin/env bash
# Benchmark: one epoch of the seed model (batch 32) on the CPU, fashion-tui headless vs
# PyTorch eager in Python, same machine, same thread count. Reports seconds per epoch,
# images/s and peak resident memory (GNU time's max RSS). Not a test: figures go in the
# README. Then the same epoch with the dashboard open (in tmux, 160x48) against headless:
# the dashboard's cost in training throughput.
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
rss() { grep 'Maximum resident set size' "$1" | awk '{print $NF}'; }

echo "bench: fashion-tui (release), $threads thread(s)" >&2
/usr/bin/time -v -o "$run_dir/ft.time" "$root/target/release/fashion-tui" train --json --device cpu \
  --threads "$threads" --epochs 1 --train-limit "$limit" --test-limit 1000 --data-dir "$data" \
  --run-dir "$run_dir/run" > "$run_dir/ft.json"
ft=$(head -n 1 "$run_dir/ft.json")

echo "bench: PyTorch eager, $threads thread(s)" >&2
PYTHONPATH="$py" /usr/bin/time -v -o "$run_dir/pt.time" python3 "$root/scripts/bench_pytorch.py" "$data" "$threads" "$limit" > "$run_dir/pt.json"
pt=$(cat "$run_dir/pt.json")

python3 - "$ft" "$pt" "$(rss "$run_dir/ft.time")" "$(rss "$run_dir/pt.time")" <<'PY'
import json, sys
ft, pt = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ft_rss, pt_rss = int(sys.argv[3]) / 1024, int(sys.argv[4]) / 1024
print(f"{'':14}{'s/epoch':>9}{'images/s':>10}{'peak RSS':>11}")
print(f"{'fashion-tui':14}{ft['seconds']:>9.1f}{ft['images_per_sec']:>10.0f}{ft_rss:>8.0f} MB")
print(f"{'PyTorch eager':14}{pt['seconds']:>9.1f}{pt['images_per_sec']:>10.0f}{pt_rss:>8.0f} MB")
print(f"speed-up {pt['seconds'] / ft['seconds']:.2f}x, memory {ft_rss / pt_rss:.2f}x of PyTorch's")
PY

echo "bench: dashboard (tmux 160x48) vs headless, 2 epochs each" >&2
sock="ft-bench-$$"
tmux -L "$sock" -f /dev/null new-session -d -s b -x 160 -y 48 \
  "$root/target/release/fashion-tui --device cpu --threads $threads --epochs 2 --train-limit $limit --test-limit 1000 --data-dir $data --run-dir $run_dir/ui; sleep 600"
for _ in $(seq 1200); do
  [ "$(wc -l < "$run_dir/ui/metrics.jsonl" 2>/dev/null || echo 0)" -ge 2 ] && break
  sleep 1
done
tmux -L "$sock" kill-server 2>/dev/null || true
"$root/target/release/fashion-tui" train --json --device cpu --threads "$threads" --epochs 2 \
  --train-limit "$limit" --test-limit 1000 --data-dir "$data" --run-dir "$run_dir/hl" > /dev/null
python3 - "$run_dir/ui/metrics.jsonl" "$run_dir/hl/metrics.jsonl" <<'PY'
import json, sys
ips = lambda p: sum(json.loads(l)["images_per_sec"] for l in open(p)) / 2
ui, hl = ips(sys.argv[1]), ips(sys.argv[2])
print(f"dashboard {ui:.0f} img/s, headless {hl:.0f} img/s: the dashboard keeps {100 * ui / hl:.1f}% of headless throughput")
PY
