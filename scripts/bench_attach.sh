#!/usr/bin/env bash
# Benchmark: what serving a run and attached dashboards cost it, on this machine. Not a
# test: figures go in the README. One epoch on TRAIN_LIMIT images, four ways, in rounds
# whose order rotates so that drift cancels:
#   plain: the trainer alone, its events dropped, no socket (examples/plain_epoch.rs);
#   0, 1, 3: the real binary in the background (`train --detach`, serving its socket) with
#   no dashboard, one and three attached (`attach`, each in its own tmux terminal at
#   160x48, at the default 10 frames a second).
# Each run trains two epochs and the second is timed (metrics.jsonl's training seconds),
# so that the dashboards have started and drawn their history before the clock runs, as
# in a run of any length. Per round, the plain epoch's seconds divided by each arm's: the
# median of those ratios and their range (100%: costs nothing).
#
# The dashboards run on the same machine as the run (as `ssh host fashion-tui attach`
# does): their drawing competes with training for the same cores, and is counted.
#
# Usage: scripts/bench_attach.sh [THREADS] [TRAIN_LIMIT] [ROUNDS]   (THREADS 0: the default
#   count, fitted to the CPU while training, on both sides)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
plain=${PLAIN_EPOCH_BIN:-$root/target/release/examples/plain_epoch}
threads=${1:-$(nproc)}
limit=${2:-10000}
rounds=${3:-6}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
command -v tmux >/dev/null || { echo "bench: needs tmux (make setup installs it)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
[ -x "$plain" ] || { echo "bench: no $plain (cargo build --release --example plain_epoch)" >&2; exit 1; }

work=$(mktemp -d)
sock="ft-attach-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work/config # the defaults: 10 frames a second

seconds() { grep -o '"seconds":[0-9.]*' "$1/metrics.jsonl" | sed -n 2p | cut -d: -f2; }

# One epoch: the trainer alone ($2 = plain), or in the background with $2 dashboards
# attached; prints its training seconds.
epoch() { # $1: run dir, $2: plain or dashboards
  local dir=$1 k=$2 pid i
  if [ "$k" = plain ]; then
    "$plain" --threads "$threads" --epochs 2 --train-limit "$limit" --test-limit 1000 \
      --data-dir "$data" --run-dir "$dir" > /dev/null
    seconds "$dir"
    return
  fi
  "$bin" train --detach --device cpu --threads "$threads" --epochs 2 \
    --train-limit "$limit" --test-limit 1000 --data-dir "$data" --run-dir "$dir" > /dev/null
  pid=$(cat "$dir/.lock")
  for i in $(seq "$k"); do
    tmux -L "$sock" -f /dev/null new-session -d -s "c$i" -x 160 -y 48 \
      "$(printf '%q ' "$bin" attach "$dir"); sleep 60"
  done
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  if [ "$k" -gt 0 ]; then
    tmux -L "$sock" kill-server 2>/dev/null || true
  fi
  seconds "$dir"
}

source "$root/scripts/cpu.sh"
cpu=$(cpu_name)
echo "bench: attached dashboards, $rounds rounds of 4 two-epoch runs ($limit images, $threads threads) on $cpu" >&2
arms=(plain 0 1 3)
declare -A secs
for r in $(seq "$rounds"); do
  for j in 0 1 2 3; do
    k=${arms[$(( (j + r) % 4 ))]}
    s=$(epoch "$work/r$r-$k" "$k")
    secs[$r,$k]=$s
    echo "  round $r, $k attached: ${s}s" >&2
  done
done

ratios() { # $1: K
  for r in $(seq "$rounds"); do
    awk "BEGIN { printf \"%.4f\n\", ${secs[$r,plain]} / ${secs[$r,$1]} }"
  done | sort -n
}
median() { awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo
echo "Attached dashboards ($cpu, $threads threads, $limit images an epoch, $rounds rounds):"
echo
echo "| served in the background, dashboards attached | training throughput vs the trainer alone (median) | range over rounds |"
echo "|---|---|---|"
for k in 0 1 3; do
  m=$(ratios "$k" | median)
  lo=$(ratios "$k" | head -1)
  hi=$(ratios "$k" | tail -1)
  printf '| %d | %.1f%% | %.1f%% – %.1f%% |\n' "$k" "$(awk "BEGIN { print $m * 100 }")" \
    "$(awk "BEGIN { print $lo * 100 }")" "$(awk "BEGIN { print $hi * 100 }")"
done
