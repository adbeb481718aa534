#!/usr/bin/env bash
# Benchmark: what the dashboard costs training, on this machine. Not a test: figures go in
# the README. Two measurements, both in a real terminal (tmux at 160x48):
#
# 1. In one process (examples/dashboard_cost.rs): the real trainer trains while the real
#    dashboard loop alternates, in 1 s windows, between drawing and sleeping (nothing reads
#    the trainer's snapshots then: the cost against no consumer at all). Adjacent windows
#    see the same machine, so the median of the per-pair ratios is tight even on a shared
#    VM whose speed wanders by ±25% over minutes.
# 2. End to end, the real binary: paired rounds of one epoch on TRAIN_LIMIT images, headless
#    and with the dashboard, in alternating order (ABBA) so drift cancels; the median of
#    the per-round ratios with a bootstrap 95% interval. Wider, as separate runs are.
#
# Also measured while the dashboard draws: the UI thread's CPU as a share of one core (from
# the scheduler's own accounting), the bytes written to the terminal per second (what an
# SSH link would carry), and tmux's CPU.
#
# Usage: scripts/bench_dashboard.sh [THREADS] [TRAIN_LIMIT] [ROUNDS] [PAIRS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$root/scripts/cpu.sh"
echo "CPU: $(cpu_name)"
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
threads=${1:-$(nproc)}
limit=${2:-10000}
rounds=${3:-10}
pairs=${4:-60}
example=${FASHION_TUI_COST_BIN:-$root/target/release/examples/dashboard_cost}
size=${BENCH_TERM_SIZE:-160x48}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
command -v tmux >/dev/null || { echo "bench: needs tmux (make setup installs it)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
[ -x "$example" ] || { echo "bench: no $example (cargo build --release --example dashboard_cost)" >&2; exit 1; }

work=$(mktemp -d)
sock="ft-bench-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
flags=(--device cpu --threads "$threads" --epochs 1 --train-limit "$limit" --test-limit 1000
  --data-dir "$data")

cpu_ns() { cut -d' ' -f1 "$1" 2>/dev/null || echo 0; }

# One epoch in a fresh tmux session, headless (--json: its JSON goes to a file, its live
# progress line to the terminal) or with the dashboard: both arms get the same terminal,
# the same tmux server and the same slow poller, so the dashboard is the only difference.
# Prints the tmux server's CPU (ns) and the seconds it ran.
epoch() { # $1: run dir, $2: headless|dashboard
  local dir=$1 mode=() out=() server t0 t1 m0 m1 screen
  if [ "$2" = headless ]; then mode=(train --json) out=("> $(printf '%q' "$dir.json")"); fi
  # The pane stays after its program exits, so a failure can be shown.
  tmux -L "$sock" -f /dev/null new-session -d -s b -x "${size%x*}" -y "${size#*x}" \
    "exec $(printf '%q ' "$bin" "${mode[@]}" "${flags[@]}" --run-dir "$dir") ${out[*]}" \; \
    set-option -w remain-on-exit on
  server=$(tmux -L "$sock" display -p '#{pid}')
  t0=$(date +%s.%N) m0=$(cpu_ns "/proc/$server/schedstat")
  for _ in $(seq 2400); do
    [ -s "$dir/metrics.jsonl" ] && break
    [ "$(tmux -L "$sock" display -p '#{pane_dead}')" = 1 ] && break
    sleep 0.25
  done
  t1=$(date +%s.%N) m1=$(cpu_ns "/proc/$server/schedstat")
  screen=$(tmux -L "$sock" capture-pane -p)
  tmux -L "$sock" kill-server 2>/dev/null || true
  while pgrep -f -- "--run-dir $dir\$" > /dev/null; do sleep 0.1; done
  if [ ! -s "$dir/metrics.jsonl" ]; then
    printf 'bench: the %s run ended without an epoch; its terminal showed:\n%s\n' "$2" "$screen" >&2
    exit 1
  fi
  # Check that each arm is what it claims (a dashboard needs stdout to be the terminal).
  if [ "$2" = dashboard ] && ! grep -q '┌ fashion-tui' <<<"$screen"; then
    printf 'bench: the dashboard did not come up; its terminal showed:\n%s\n' "$screen" >&2
    exit 1
  fi
  if [ "$2" = headless ] && grep -q '┌ fashion-tui' <<<"$screen"; then
    echo "bench: the headless run drew the dashboard" >&2
    exit 1
  fi
  echo "$((m1 - m0)) $(awk "BEGIN { print $t1 - $t0 }")"
}

echo "== in one process: the dashboard drawing or not, in alternate 1 s windows"
echo "bench: dashboard on and off in one process, $pairs pairs of 1 s windows (about $((2 * pairs / 60 + 1)) min)" >&2
tmux -L "$sock" -f /dev/null new-session -d -s b -x "${size%x*}" -y "${size#*x}" \
  "$(printf '%q ' "$example" --threads "$threads" --pairs "$pairs" --data-dir "$data" --report "$work/cost.txt") 2> $(printf '%q' "$work/cost.err")"
while tmux -L "$sock" has-session 2>/dev/null; do sleep 1; done
if [ -s "$work/cost.txt" ]; then cat "$work/cost.txt"; else cat "$work/cost.err" >&2; exit 1; fi

echo "== end to end: the real binary, headless or with the dashboard, one epoch each"
echo "bench: dashboard vs headless, $rounds paired rounds of one epoch on $limit images, $threads thread(s)" >&2
for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    epoch "$work/hl$r" headless > /dev/null
    epoch "$work/ui$r" dashboard > "$work/ui$r.cpu"
  else
    epoch "$work/ui$r" dashboard > "$work/ui$r.cpu"
    epoch "$work/hl$r" headless > /dev/null
  fi
  echo "bench: round $r/$rounds done" >&2
done

python3 - "$work" "$rounds" <<'PY'
import json, random, statistics as st, sys
d, n = sys.argv[1], int(sys.argv[2])
ips = lambda p: json.loads(open(p).readline())["images_per_sec"]
hl = [ips(f"{d}/hl{r}/metrics.jsonl") for r in range(1, n + 1)]
ui = [ips(f"{d}/ui{r}/metrics.jsonl") for r in range(1, n + 1)]
cpu = [list(map(float, open(f"{d}/ui{r}.cpu").read().split())) for r in range(1, n + 1)]
ratio = [100 * u / h for u, h in zip(ui, hl)]
rng = random.Random(0)
boot = sorted(st.median(rng.choices(ratio, k=n)) for _ in range(10000))
lo, hi = boot[249], boot[9749]
print(f"headless   median {st.median(hl):6.0f} img/s   rounds: {' '.join(f'{x:.0f}' for x in hl)}")
print(f"dashboard  median {st.median(ui):6.0f} img/s   rounds: {' '.join(f'{x:.0f}' for x in ui)}")
print(f"per-round dashboard/headless: {' '.join(f'{x:.1f}' for x in ratio)} %")
print(f"the dashboard keeps {st.median(ratio):.1f}% of headless throughput (median of {n} paired rounds; "
      f"bootstrap 95% interval {lo:.1f}-{hi:.1f}%)")
tmux_cpu = st.median(100 * c[0] / 1e9 / c[1] for c in cpu)
print(f"tmux server (the terminal) with the dashboard: {tmux_cpu:.2f}% of one core")
print(f"For the README: headless {st.median(hl):,.0f} img/s, dashboard {st.median(ui):,.0f} img/s "
      f"(medians of rounds that ranged {min(hl + ui):,.0f}–{max(hl + ui):,.0f}); per-round ratio median "
      f"{st.median(ratio):.1f}%, 95% interval {lo:.1f}–{hi:.1f}%; the tmux server drawing the dashboard "
      f"used {tmux_cpu:.2f}% of one core ({n} rounds).")
PY
