#!/usr/bin/env bash
# Benchmark: does the kernel choice at start-up (model.dense, model.layout = "auto") pick
# the fastest way on this CPU? Not a test: prints a markdown table per model for the
# README.
#
# Arms, each one epoch of TRAIN_LIMIT images on the CPU at THREADS threads (training time,
# from the run's metrics line), headless: every way forced by name (the tutorial: dense
# turned / linear x layout contiguous / channels_last; the fast network: its two layouts),
# and `auto` with an empty cache, so that it times the candidates at start-up every round
# (its choice is read from the run's config). Rounds rotate the arms' order so that drift
# falls on all alike; figures are medians of rounds.
#
# Usage: scripts/bench_kernels.sh [THREADS] [TRAIN_LIMIT] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-$(nproc)}
limit=${2:-20000}
rounds=${3:-4}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
source "$root/scripts/cpu.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Arms: model, dense, layout ("auto auto": timed at start-up).
arms=(
  "tutorial auto auto"
  "tutorial turned contiguous"
  "tutorial turned channels_last"
  "tutorial linear contiguous"
  "tutorial linear channels_last"
  "fast auto auto"
  "fast linear channels_last"
  "fast linear contiguous"
)
n=${#arms[@]}
for r in $(seq "$rounds"); do
  echo "bench: round $r/$rounds ($threads thread(s), $limit images)" >&2
  for j in $(seq 0 $((n - 1))); do
    i=$(( (j + r - 1) % n ))
    read -r model dense layout <<< "${arms[i]}"
    dir="$work/arm$i-$r"
    # An empty cache for every run: `auto` times the candidates each time.
    mkdir -p "$dir.cache"
    printf '[model]\ndense = "%s"\nlayout = "%s"\n' "$dense" "$layout" > "$dir.toml"
    XDG_CACHE_HOME="$dir.cache" "$bin" train --json --config "$dir.toml" --device cpu \
      --model "$model" --threads "$threads" --epochs 1 --train-limit "$limit" \
      --test-limit 1000 --data-dir "$data" --run-dir "$dir" > /dev/null 2> "$dir.err" ||
      { echo "bench: fashion-tui ($model $dense $layout) failed:" >&2; cat "$dir.err" >&2; exit 1; }
  done
done

python3 - "$work" "$rounds" "$threads" "$limit" "$(cpu_name)" "${arms[@]}" <<'PY'
import json, re, statistics, sys
d, rounds, threads, limit, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
arms = sys.argv[6:]
def secs(i, r):
    line = open(f"{d}/arm{i}-{r}/metrics.jsonl").readline()
    return json.loads(line)["seconds"]
def chose(i, r):
    text = open(f"{d}/arm{i}-{r}/config.toml").read()
    get = lambda k: re.search(rf'^{k} = "([^"]+)"', text, re.M).group(1)
    return f"{get('dense')} {get('layout')}"
print(f"== kernels chosen at start-up against each way forced: one epoch of {limit} images, "
      f"{threads} thread(s), {rounds} rounds (rotating order), training seconds")
print(f"CPU: {cpu}")
for model in ("tutorial", "fast"):
    rows = [(i, a) for i, a in enumerate(arms) if a.split()[0] == model]
    print()
    print(f"| {model}: model.dense, model.layout | s/epoch, median | rounds | auto chose |")
    print("| --- | ---: | --- | --- |")
    forced = {}
    for i, a in rows:
        _, dense, layout = a.split()
        s = [secs(i, r) for r in range(1, rounds + 1)]
        name = "auto (timed at start-up)" if dense == "auto" else f"{dense}, {layout}"
        picks = " · ".join(chose(i, r) for r in range(1, rounds + 1)) if dense == "auto" else ""
        if dense != "auto":
            forced[f"{dense} {layout}"] = statistics.median(s)
        print(f"| {name} | {statistics.median(s):.2f} | {' · '.join(f'{x:.2f}' for x in s)} | {picks} |")
    best = min(forced, key=forced.get)
    worst = max(forced, key=forced.get)
    print(f"fastest forced: {best} ({forced[best]:.2f} s); slowest: {worst} "
          f"({forced[worst]:.2f} s, {forced[worst] / forced[best]:.2f}x)")
PY
