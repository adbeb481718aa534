#!/usr/bin/env bash
# Every figure the README reports, as markdown rows to paste. Not a test.
# 1. Speed: one epoch of the tutorial model (batch 32) on the CPU, fashion-tui headless vs
#    PyTorch eager in Python, same machine, same thread count, in rounds whose order
#    alternates (ABBA) so that drift cancels: seconds per epoch and peak resident memory
#    (GNU time's max RSS of each whole process).
# 2. Accuracy: the 10-epoch run of the README's table, seed 42, and the same with seed 1
#    (scripts/bench_accuracy.sh), with its seconds per epoch, peak memory and load time.
# 3. What the dashboard costs training (scripts/bench_dashboard.sh).
# 4. The tutorial and fast models in three minutes each (scripts/bench_models.sh).
# Takes about 35 minutes on a 2-core machine (plus a one-time PyTorch install).
# Usage: scripts/bench.sh [THREADS] [TRAIN_LIMIT] [EPOCHS]
#   TRAIN_LIMIT (0 = all 60,000 images) and EPOCHS (10) are for trying the script quickly.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-$(nproc)}
limit=${2:-0}
epochs=${3:-10}
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

# Interleaved rounds (this kind of machine is noisy), ABBA: odd rounds run fashion-tui
# first, even rounds PyTorch first. The median of each side is reported.
ft_round() {
  /usr/bin/time -v -o "$run_dir/ft$1.time" "$root/target/release/fashion-tui" train --json --device cpu \
    --threads "$threads" --epochs 1 --train-limit "$limit" --test-limit 1000 --data-dir "$data" \
    --run-dir "$run_dir/run$1" 2>/dev/null | head -n 1 > "$run_dir/ft$1.json"
}
pt_round() {
  PYTHONPATH="$py" /usr/bin/time -v -o "$run_dir/pt$1.time" python3 "$root/scripts/bench_pytorch.py" \
    "$data" "$threads" "$limit" > "$run_dir/pt$1.json"
}
rounds=${BENCH_ROUNDS:-4}
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    echo "bench: round $r/$rounds: fashion-tui (release), then PyTorch eager, $threads thread(s)" >&2
    ft_round "$r"; pt_round "$r"
  else
    echo "bench: round $r/$rounds: PyTorch eager, then fashion-tui (release), $threads thread(s)" >&2
    pt_round "$r"; ft_round "$r"
  fi
done

python3 - "$run_dir" "$rounds" "$threads" <<'PY'
import json, re, statistics, sys
d, n, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss(p):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read()).group(1)) / 1024
ft = [json.load(open(f"{d}/ft{r}.json")) for r in range(1, n + 1)]
pt = [json.load(open(f"{d}/pt{r}.json")) for r in range(1, n + 1)]
fs, ps = [x["seconds"] for x in ft], [x["seconds"] for x in pt]
fm, pm = max(rss(f"{d}/ft{r}.time") for r in range(1, n + 1)), max(rss(f"{d}/pt{r}.time") for r in range(1, n + 1))
imgs = ft[0]["images_per_sec"] * ft[0]["seconds"]
print(f"== speed and memory: one epoch of {round(imgs)} images, batch 32, CPU, {threads} thread(s), "
      f"{n} rounds (ABBA order)")
print("|  | s/epoch, median | rounds | peak RSS of the process |")
print("| --- | ---: | --- | ---: |")
print(f"| fashion-tui (release binary, CPU path) | {statistics.median(fs):.1f} | "
      f"{' · '.join(f'{x:.1f}' for x in fs)} | {fm:.0f} MB |")
print(f"| PyTorch eager (Python interpreter, torch and numpy loaded) | {statistics.median(ps):.1f} | "
      f"{' · '.join(f'{x:.1f}' for x in ps)} | {pm:.0f} MB |")
faster = sum(f < p for f, p in zip(fs, ps))
print(f"fashion-tui took {statistics.median(fs) / statistics.median(ps):.2f}x PyTorch's time "
      f"(faster in {faster} of {n} rounds) with {fm / pm:.2f}x its peak memory")
PY

# The README's 10-epoch table (seed 42), and the same run with seed 1.
bash "$root/scripts/bench_accuracy.sh" "$threads" "$epochs" "$limit" 42
bash "$root/scripts/bench_accuracy.sh" "$threads" "$epochs" "$limit" 1

# The dashboard's cost in training throughput.
bash "$root/scripts/bench_dashboard.sh" "$threads"

# The tutorial and fast models under a three-minute budget (scripts/bench_models.sh).
bash "$root/scripts/bench_models.sh" "$threads" 3m
