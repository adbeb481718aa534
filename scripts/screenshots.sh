#!/usr/bin/env bash
# Pictures of the real dashboard during a real run, taken from a real terminal emulator:
# xterm (DejaVu Sans Mono, truecolor) on a virtual X display, driven with xdotool, grabbed
# with ImageMagick. Writes screenshots/{dashboard-160x48,dashboard-80x24,help,fast-160x48,linked-160x48,
# view-overlay}.png.
# Needs (Debian): xvfb xterm xdotool imagemagick fonts-dejavu-core; installs them as root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
out="$root/screenshots"
[ -x "$bin" ] || { echo "screenshots: build first (make build)" >&2; exit 1; }
need=()
for c in Xvfb xterm xdotool import; do command -v $c >/dev/null || need+=($c); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "screenshots: missing ${need[*]}" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xterm xdotool imagemagick fonts-dejavu-core >/dev/null
fi
mkdir -p "$out"
work=$(mktemp -d)
# A free display number, chosen by Xvfb itself, which writes it once it accepts clients
# (a fixed number collides with a server still shutting down from a previous run).
Xvfb -displayfd 3 -screen 0 2200x1400x24 -nolisten tcp 3>"$work/display" >/dev/null 2>&1 &
xvfb=$!
# Under set -e a failing command would end the trap early (exit 1, $work left behind):
# no xterm left for pkill to find is the normal case.
trap 'kill $xvfb 2>/dev/null || true; pkill -f "xterm -class ftshot" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  [ -s "$work/display" ] && break
  sleep 0.1
done
[ -s "$work/display" ] || { echo "screenshots: Xvfb did not start" >&2; exit 1; }
export DISPLAY=:$(head -n 1 "$work/display")

# shot NAME COLSxROWS SECONDS [KEYS...]: run "${cmd[@]}" (the dashboard) in a new xterm,
# wait, press KEYS (xdotool key names), grab the window.
shot() {
  local name=$1 geom=$2 wait=$3; shift 3
  local cls="ftshot$name"
  xterm -class "ftshot" -name "$cls" -fa 'DejaVu Sans Mono' -fs 10 -geometry "$geom" \
    -bg '#101418' -fg '#d8dee9' -e env COLORTERM=truecolor TERM=xterm-256color \
    "${cmd[@]}" &
  local term=$!
  local win=""
  for _ in $(seq 50); do
    win=$(xdotool search --classname "$cls" 2>/dev/null | head -n 1 || true)
    [ -n "$win" ] && break
    sleep 0.2
  done
  [ -n "$win" ] || { echo "screenshots: no xterm window" >&2; exit 1; }
  sleep "$wait"
  # xterm ignores synthetic (SendEvent) keys: focus it and type through XTEST instead.
  xdotool windowfocus --sync "$win" 2>/dev/null || true
  for k in "$@"; do
    xdotool key "$k"
    sleep 1
  done
  import -window "$win" "$out/$name.png"
  kill $term 2>/dev/null || true
  wait $term 2>/dev/null || true
  echo "screenshots: $out/$name.png"
}

# live NAME: the training command for shot NAME (a live run).
live() {
  cmd=("$bin" --device cpu --train-limit 12000 --test-limit 2000 --epochs 20 --run-dir "$work/run-$1")
}
live dashboard-160x48 && shot dashboard-160x48 160x48 12 p
live dashboard-80x24 && shot dashboard-80x24 80x24 10
live help && shot help 160x48 12 question

# The fast model under a time budget, half-way: its four conv layers, the learning-rate
# line on the Loss chart with the budget's end, the time left in the header.
cmd=("$bin" --device cpu --model fast --time-budget 90s --train-limit 30000 --test-limit 5000
  --run-dir "$work/run-fast")
shot fast-160x48 160x48 45

# Two finished runs that differ in their learning rate, viewed together: the second drawn
# over the first's charts, with the Runs pane open.
for lr in 0.001 0.003; do
  "$bin" train --device cpu --json --train-limit 12000 --test-limit 2000 --epochs 6 --lr "$lr" \
    --run-dir "$work/lr-$lr" >/dev/null
done
cmd=("$bin" view "$work/lr-0.001" "$work/lr-0.003")
shot view-overlay 160x48 8 r

# Asking why: in the finished run, the Confusion pane's worst cell opened with Enter (its
# images in the Predictions pane, the most confident first), then the second of them
# opened into the Feature maps pane (computed from the saved model).
cmd=("$bin" view "$work/lr-0.001")
shot linked-160x48 160x48 8 3 Return 5 l Return
