#!/usr/bin/env bash
# Benchmark: training beside a busy process, as on a shared server or a laptop compiling in
# another window. Not a test: figures go in the README. One busy process (a Python loop)
# runs beside each arm but the quiet ones; one epoch of the tutorial on TRAIN_LIMIT images,
# in rounds whose order rotates:
#   quiet-1: no busy process, --threads 1 (the reference: what one core gives);
#   quiet-default, quiet-all-cores: no busy process, as below (what fitting the team costs
#            on a quiet machine: quiet-default against quiet-all-cores);
#   default: the default thread count (fitted to the CPU while training);
#   all-cores: --threads $(nproc), a team that never adapts (the default before);
#   pytorch: PyTorch eager with its default threads (scripts/bench_pytorch.py), when the
#            PyTorch that scripts/bench_speed.sh installs is there.
# Images per second of training; per round, each arm's divided by quiet-1's: the median
# and the range of those ratios.
# Usage: scripts/bench_contention.sh [TRAIN_LIMIT] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
limit=${1:-20000}
rounds=${2:-4}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cache=${FASHION_TUI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fashion-tui}
py="$cache/pytorch-2.13.0"
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
source "$root/scripts/cpu.sh"
cores=$(nproc)

work=$(mktemp -d)
busy_pid=
stop_busy() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; busy_pid=; }
trap 'stop_busy; rm -rf "$work"' EXIT
start_busy() { python3 -c 'while True: pass' & busy_pid=$!; sleep 0.5; }

ours() { # $1: run dir, $2...: flags; prints images/s of training
  "$bin" train --headless --device cpu --epochs 1 --train-limit "$limit" --test-limit 1000 \
    --data-dir "$data" --run-dir "$1" "${@:2}" > "$1.out" 2> "$1.err" \
    || { cat "$1.err" >&2; exit 1; }
  grep -o '"images_per_sec":[0-9.]*' "$1/metrics.jsonl" | head -1 | cut -d: -f2
}
arms=(quiet-1 quiet-default quiet-all-cores default all-cores)
[ -f "$py/.complete" ] && arms+=(pytorch)
arm() { # $1: arm, $2: round
  local dir="$work/$1-$2"
  case $1 in
    quiet-1) ours "$dir" --threads 1 ;;
    quiet-default) ours "$dir" ;;
    quiet-all-cores) ours "$dir" --threads "$cores" ;;
    default) start_busy; ours "$dir"; stop_busy ;;
    all-cores) start_busy; ours "$dir" --threads "$cores"; stop_busy ;;
    pytorch)
      start_busy
      PYTHONPATH="$py" python3 "$root/scripts/bench_pytorch.py" "$data" "$cores" "$limit" \
        --test-limit 1000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_sec"])'
      stop_busy ;;
  esac
}

cpu=$(cpu_name)
echo "bench: beside a busy process, ${#arms[@]} arms × $rounds rounds, $limit images ($cpu)" >&2
[ -f "$py/.complete" ] || echo "bench: no PyTorch in $py (scripts/bench_speed.sh installs it): its arm is left out" >&2
declare -A ips
n=${#arms[@]}
for r in $(seq "$rounds"); do
  for j in $(seq 0 $((n - 1))); do
    a=${arms[$(( (j + r) % n ))]}
    ips[$r,$a]=$(arm "$a" "$r")
    echo "  round $r, $a: ${ips[$r,$a]} images/s" >&2
    # What the default run's Log said about its threads.
    case $a in *default) grep -h "thread" "$work/$a-$r.out" | sed 's/^/    /' >&2 || true ;; esac
  done
done

echo
echo "Beside one busy process ($cpu; tutorial, $limit images an epoch, $rounds rounds):"
echo
echo "| arm | images/s (median) | vs one thread on a quiet machine (median) | range |"
echo "|---|---:|---:|---:|"
for a in "${arms[@]}"; do
  med=$(for r in $(seq "$rounds"); do echo "${ips[$r,$a]}"; done | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  ratios=$(for r in $(seq "$rounds"); do awk "BEGIN { printf \"%.4f\n\", ${ips[$r,$a]} / ${ips[$r,quiet-1]} }"; done | sort -n)
  rmed=$(echo "$ratios" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  printf '| %s | %.0f | %.1f%% | %.1f%% – %.1f%% |\n' "$a" "$med" "$(awk "BEGIN { print $rmed * 100 }")" \
    "$(echo "$ratios" | head -1 | awk '{print $1 * 100}')" "$(echo "$ratios" | tail -1 | awk '{print $1 * 100}')"
done
