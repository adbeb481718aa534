#!/usr/bin/env bash
# Benchmark: time from the process's start to the dashboard's first frame, with the
# dataset already local. Not a test: prints a markdown row for the README.
#
# The real binary trains in a fresh tmux session at 160x48, RUNS times. The program
# measures it itself: from the process's start as the kernel records it (before `main`,
# while libtorch loads) to the end of the first `terminal.draw`, and says so in its Log
# pane: `dashboard up in 0.16 s (main at 0.15 s)`. This reads that line off the screen.
#
# Usage: scripts/bench_startup.sh [THREADS] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/cpu.sh"
echo "CPU: $(cpu_name)"
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
threads=${1:-$(nproc)}
runs=${2:-5}
size=${BENCH_TERM_SIZE:-160x48}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
command -v tmux >/dev/null || { echo "bench: needs tmux (make setup installs it)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }

work=$(mktemp -d)
sock="ft-startup-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

up=() main=()
for r in $(seq "$runs"); do
  dir="$work/run$r"
  tmux -L "$sock" -f /dev/null new-session -d -s s -x "${size%x*}" -y "${size#*x}" \
    "exec $(printf '%q ' "$bin" train --device cpu --threads "$threads" --epochs 1 \
      --train-limit 1000 --test-limit 1000 --data-dir "$data" --run-dir "$dir")" \; \
    set-option -w remain-on-exit on
  line=""
  for _ in $(seq 400); do
    line=$(tmux -L "$sock" capture-pane -p | grep -o 'dashboard up in [0-9.]* s (main at [0-9.]* s)' || true)
    [ -n "$line" ] && break
    [ "$(tmux -L "$sock" display -p '#{pane_dead}')" = 1 ] && break
    sleep 0.05
  done
  screen=$(tmux -L "$sock" capture-pane -p)
  tmux -L "$sock" kill-server 2>/dev/null || true
  # The trainer checkpoints on the hang-up; wait for it before the next run.
  while pgrep -f -- "--run-dir $dir\$" > /dev/null; do sleep 0.1; done
  if [ -z "$line" ]; then
    printf 'bench: the dashboard never said it was up; its terminal showed:\n%s\n' "$screen" >&2
    exit 1
  fi
  read -r u m < <(sed -E 's/dashboard up in ([0-9.]+) s \(main at ([0-9.]+) s\)/\1 \2/' <<<"$line")
  echo "bench: run $r/$runs: $line" >&2
  up+=("$u") main+=("$m")
done

python3 - "$size" "${up[*]}" "${main[*]}" <<'PY'
import statistics, sys
size, up, main = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
med = statistics.median
print(f"== time to the dashboard's first frame (tmux {size}, the data local, {len(up)} runs)")
print("|  | median | runs |")
print("| --- | ---: | --- |")
print(f"| process start to the first frame | {med(up):.2f} s | {' · '.join(f'{x:.2f}' for x in up)} |")
print(f"| of which before `main` (loading libtorch) | {med(main):.2f} s | {' · '.join(f'{x:.2f}' for x in main)} |")
PY
