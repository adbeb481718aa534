#!/usr/bin/env bash
# Benchmark: what photos as phones take them cost `predict`. COUNT test images made into
# seeded photos (tests/common/photos.rs: 240-1200 px, off-centre, light and dark garments),
# each clean and with one disturbance (sensor noise, JPEG blocks, uneven light, a soft
# shadow, all four milder), classified with the tutorial model's 10 epochs as `predict`
# does; how often each agrees with `predict --test` on the image itself
# (examples/photo_agreement.rs). Prints the README's table. Not a test.
# Usage: scripts/bench_photos.sh [RUN] [COUNT] [SEED]
#   RUN: a run directory whose model to use; without one, the tutorial model is trained
#   for 10 epochs first (seed 42, all cores: about 2-4 minutes on 2 cores).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FASHION_TUI_BIN:-$root/target/release/fashion-tui}
measure=${PHOTO_AGREEMENT_BIN:-$root/target/release/examples/photo_agreement}
run=${1:-}
count=${2:-300}
seed=${3:-4242}
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[ -x "$measure" ] || { echo "bench: no $measure (cargo build --release --example photo_agreement)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$run" ]; then
  [ -x "$bin" ] || { echo "bench: no binary at $bin (make build)" >&2; exit 1; }
  echo "bench: training the tutorial model for 10 epochs (seed 42) to classify with" >&2
  run=$work/run
  "$bin" train --headless --device cpu --epochs 10 --seed 42 --data-dir "$data" \
    --run-dir "$run" > /dev/null
fi
source "$root/scripts/cpu.sh"
cpu=$(cpu_name)
echo "bench: photos of $count test images, seed $seed ($cpu)" >&2
FASHION_MNIST_DIR=$data "$measure" "$run" "$count" "$seed"
