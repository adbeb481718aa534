#!/usr/bin/env bash
# Benchmark: training speed and memory, fashion-tui against PyTorch, and the fraction of
# the machine's matrix-multiply ceiling each reaches. Not a test: prints markdown rows for
# the README's speed table.
#
# Four arms, each one epoch on the CPU at THREADS threads with the dataset already local:
#   ours     fashion-tui (release binary, headless), the tutorial model, batch 32
#   default  PyTorch 2.13 eager in Python (scripts/bench_pytorch.py): the same network,
#            initialisation, batch and Adam (lr 1e-3, eps 1e-7), torch.optim.Adam's default
#   fused    the same with torch.optim.Adam(fused=True)
#   lean     PyTorch's default Adam in the leanest loop a user writes for speed: both sets
#            converted to float once before the loops, no loss read per batch (--lean)
#   leanfused  the lean loop with Adam(fused=True): the strongest PyTorch here
#   fast     fashion-tui's fast model with its own recipe (batch 256); no PyTorch twin
# An arm's epoch is its training loop and then one evaluation over the whole test set
# (10,000 images, batches of 256, no autograd): `seconds` + `eval_seconds` of its JSON
# line. Not timed, on either side: starting the process, reading the dataset, building the
# model; nor fashion-tui's checkpoint and the dashboard's predictions and feature maps,
# which come after its evaluation.
#
# Rounds run the arms in the orders of a balanced Latin square (Williams' design for six
# arms): every six rounds each arm runs once in each position and once after each other
# arm, so drift cancels; fewer rounds still rotate the order. The ratios are medians of the per-round
# ratios. Peak RSS: GNU time's maximum resident set of each whole process (the binary on
# its CPU path; the Python interpreter with torch and numpy loaded), the highest round.
#
# The ceiling: examples/sgemm_ceiling's best f32 matrix-product rate at THREADS threads
# through our libtorch's MKL (mm) or oneDNN (the product as a 1x1 convolution), measured
# before and after the rounds; the higher counts. An arm's fraction of
# it: (training images x the network's training FLOPs per image + test images x its
# forward FLOPs per image, from src/model/cost.rs) / epoch seconds / ceiling.
#
# Usage: scripts/bench_speed.sh [THREADS] [TRAIN_LIMIT] [ROUNDS]
#   TRAIN_LIMIT (0 = all 60,000 images) and ROUNDS (8: this VM drifts; fewer for a quick try).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-$(nproc)}
limit=${2:-0}
rounds=${3:-8}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cache=${FASHION_TUI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fashion-tui}
py="$cache/pytorch-2.13.0"
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
ceiling_bin=${FASHION_TUI_CEILING_BIN:-$root/target/release/examples/sgemm_ceiling}
command -v /usr/bin/time >/dev/null || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
[ -x "$ceiling_bin" ] || { echo "bench: no $ceiling_bin (cargo build --release --example sgemm_ceiling)" >&2; exit 1; }

if [ ! -f "$py/.complete" ]; then
  echo "bench: installing PyTorch 2.13.0 for Python into $py (once; the full CUDA wheels, ~4.6 GB, since PyPI's torch wheel links them)" >&2
  rm -rf "$py.partial"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$py.partial" torch==2.13.0 numpy
  touch "$py.partial/.complete" && rm -rf "$py" && mv "$py.partial" "$py"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One epoch of fashion-tui's model $2 in round $1; its epoch line is the run's metrics.jsonl.
ours() { # $1: round, $2: model, $3: arm name
  local dir="$work/$3-$1"
  /usr/bin/time -v -o "$dir.time" "$bin" train --json --device cpu --model "$2" \
    --threads "$threads" --epochs 1 --train-limit "$limit" --test-limit 0 --data-dir "$data" \
    --run-dir "$dir" > /dev/null 2> "$dir.err" ||
    { echo "bench: fashion-tui ($2) failed:" >&2; cat "$dir.err" >&2; exit 1; }
  head -n 1 "$dir/metrics.jsonl" > "$dir.json"
}
pytorch() { # $1: round, $2: arm name, $3...: extra options
  local out="$work/$2-$1"
  PYTHONPATH="$py" /usr/bin/time -v -o "$out.time" python3 "$root/scripts/bench_pytorch.py" \
    "$data" "$threads" "$limit" --test-limit 0 "${@:3}" > "$out.json"
}
arm() { # $1: arm index, $2: round
  case $1 in
    0) ours "$2" tutorial ours ;;
    1) pytorch "$2" default ;;
    2) pytorch "$2" fused --fused ;;
    3) ours "$2" fast fast ;;
    4) pytorch "$2" lean --lean ;;
    5) pytorch "$2" leanfused --lean --fused ;;
  esac
}
names=(ours default fused fast lean leanfused)

"$ceiling_bin" --threads "$threads" --json > "$work/ceiling-before.json"
# Williams' balanced Latin square for six arms: row r is (r + [0 1 5 2 4 3]) mod 6.
first=(0 1 5 2 4 3)
k=${#first[@]}
for r in $(seq "$rounds"); do
  order=()
  for j in "${!first[@]}"; do order+=($(( (first[j] + r - 1) % k ))); done
  echo "bench: round $r/$rounds: $(for a in "${order[@]}"; do printf '%s ' "${names[a]}"; done)($threads thread(s))" >&2
  for a in "${order[@]}"; do arm "$a" "$r"; done
done
"$ceiling_bin" --threads "$threads" --json > "$work/ceiling-after.json"

source "$root/scripts/cpu.sh"
python3 - "$work" "$rounds" "$threads" "$(cpu_name)" <<'PY'
import json, re, statistics, sys
d, n, threads, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
med = statistics.median
def rss(p):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read()).group(1)) / 1024
before, after = (json.load(open(f"{d}/ceiling-{w}.json")) for w in ("before", "after"))
ceiling = max(before["ceiling_gflops"], after["ceiling_gflops"])
models = before["models"]

def arm(name, model):
    rows = []
    for r in range(1, n + 1):
        j = json.load(open(f"{d}/{name}-{r}.json"))
        train = j.get("images") or round(j["images_per_sec"] * j["seconds"])
        # fashion-tui's line carries the confusion matrix, whose counts are the test images.
        test = j.get("test_images") or sum(map(sum, j["confusion"]))
        secs = j["seconds"] + j["eval_seconds"]
        m = models[model]
        flops = train * m["train_flops_per_image"] + test * m["forward_flops_per_image"]
        rows.append({"secs": secs, "eval": j["eval_seconds"], "ips": train / j["seconds"],
                     "gflops": flops / secs / 1e9, "train": train, "test": test})
    return {"rows": rows, "rss": max(rss(f"{d}/{name}-{r}.time") for r in range(1, n + 1))}

arms = {"ours": arm("ours", "tutorial"), "default": arm("default", "tutorial"),
        "fused": arm("fused", "tutorial"), "lean": arm("lean", "tutorial"),
        "leanfused": arm("leanfused", "tutorial"), "fast": arm("fast", "fast")}
label = {"ours": "fashion-tui, tutorial (release binary)",
         "default": "PyTorch eager, tutorial, `Adam`",
         "fused": "PyTorch eager, tutorial, `Adam(fused=True)`",
         "lean": "PyTorch eager, lean loop, `Adam`",
         "leanfused": "PyTorch eager, lean loop, `Adam(fused=True)`",
         "fast": "fashion-tui, fast (its recipe, batch 256)"}
t = arms["ours"]["rows"][0]
print(f"== speed and memory: one epoch ({t['train']} training images, then the evaluation of "
      f"{t['test']} test images), {threads} thread(s), rounds: {n} (balanced Latin square order)")
print(f"CPU: {cpu}")
best = lambda c, lib: max(r["gflops"] for r in c[lib])
print(f"matrix-product ceiling (f32, libtorch, {threads} thread(s)): {ceiling:.0f} GFLOP/s "
      f"(MKL {max(best(c, 'sgemm') for c in (before, after)):.0f}, "
      f"oneDNN {max(best(c, 'onednn') for c in (before, after)):.0f}; "
      f"(before the rounds {before['ceiling_gflops']:.0f}, after {after['ceiling_gflops']:.0f}); "
      f"FLOPs per training image: tutorial {models['tutorial']['train_flops_per_image'] / 1e6:.2f} M, "
      f"fast {models['fast']['train_flops_per_image'] / 1e6:.2f} M")
print()
print("|  | s/epoch (train + eval), median | rounds | of which eval | train img/s | GFLOP/s | of the ceiling | peak RSS |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for k, a in arms.items():
    rows = a["rows"]
    per_round = " · ".join(f"{r['secs']:.2f}" for r in rows)
    print(f"| {label[k]} | {med(r['secs'] for r in rows):.2f} | "
          f"{per_round} | {med(r['eval'] for r in rows):.2f} | "
          f"{med(r['ips'] for r in rows):,.0f} | {med(r['gflops'] for r in rows):.1f} | "
          f"{100 * med(r['gflops'] for r in rows) / ceiling:.1f}% | {a['rss']:.0f} MB |")
print()
ours = arms["ours"]
short = {"default": "PyTorch `Adam`", "fused": "PyTorch `Adam(fused=True)`",
         "lean": "PyTorch lean loop, `Adam`", "leanfused": "PyTorch lean loop, `Adam(fused=True)`"}
for k, target in (("default", 0.6), ("fused", 0.75), ("lean", 0.6), ("leanfused", 0.75)):
    ratios = [o["secs"] / p["secs"] for o, p in zip(ours["rows"], arms[k]["rows"])]
    faster = sum(x < 1 for x in ratios)
    per_round = " · ".join(f"{x:.2f}" for x in ratios)
    print(f"fashion-tui / {short[k]}: "
          f"**{med(ratios):.2f}x** the time (rounds {min(ratios):.2f}–{max(ratios):.2f}: {per_round}; "
          f"faster in {faster} of {n}; target <= {target}x)")
for k in ("default", "fused"):
    print(f"peak RSS, fashion-tui / {short[k]}: "
          f"**{ours['rss'] / arms[k]['rss']:.2f}x** ({ours['rss']:.0f} MB / {arms[k]['rss']:.0f} MB"
          + ("; target <= 0.5x)" if k == "default" else ")"))
PY
