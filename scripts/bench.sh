#!/usr/bin/env bash
# Every figure the README reports, as markdown rows to paste. Not a test.
# 1. Speed (scripts/bench_speed.sh): one epoch, training and then the evaluation of the
#    10,000 test images, on the CPU at the same thread count: fashion-tui's tutorial model
#    (batch 32) against PyTorch eager in Python with its default Adam and with
#    Adam(fused=True), each also in the leanest loop a user writes (data converted once,
#    no loss read per batch), and fashion-tui's fast model; in interleaved rounds so that drift
#    cancels. Seconds per epoch, images per second, the fraction of the machine's sgemm
#    ceiling (measured here by examples/sgemm_ceiling), peak resident memory, and the
#    ratios fashion-tui / PyTorch.
# 2. Time from the process's start to the dashboard's first frame (scripts/bench_startup.sh).
# 3. Accuracy: the 10-epoch run of the README's table, seed 42, and the same with seed 1
#    (scripts/bench_accuracy.sh), with its seconds per epoch, peak memory and load time.
# 4. What the dashboard costs training (scripts/bench_dashboard.sh).
# 5. The tutorial and fast models in three minutes each (scripts/bench_models.sh).
# 6. What serving a run in the background and attached dashboards cost it
#    (scripts/bench_attach.sh).
# 7. What photos as phones take them cost `predict` (scripts/bench_photos.sh).
# 8. The kernels chosen at start-up against each way forced (scripts/bench_kernels.sh).
# 9. Training beside a busy process: the fitted thread team against one quiet thread, and
#    PyTorch beside the same load (scripts/bench_contention.sh).
# Every table names the CPU. Takes about an hour on a 2-core machine (plus a one-time
# PyTorch install).
# Usage: scripts/bench.sh [THREADS] [TRAIN_LIMIT] [EPOCHS]
#   TRAIN_LIMIT (0 = all 60,000 images) and EPOCHS (10) are for trying the script quickly;
#   BENCH_ROUNDS (8) sets the speed rounds.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
threads=${1:-$(nproc)}
limit=${2:-0}
epochs=${3:-10}

# Speed and memory against PyTorch, and the fraction of the ceiling.
bash "$root/scripts/bench_speed.sh" "$threads" "$limit" "${BENCH_ROUNDS:-8}"

# Time to the dashboard's first frame.
bash "$root/scripts/bench_startup.sh" "$threads"

# The README's 10-epoch table (seed 42), and the same run with seed 1.
bash "$root/scripts/bench_accuracy.sh" "$threads" "$epochs" "$limit" 42
bash "$root/scripts/bench_accuracy.sh" "$threads" "$epochs" "$limit" 1

# The dashboard's cost in training throughput.
bash "$root/scripts/bench_dashboard.sh" "$threads"

# Served in the background, with 0, 1 and 3 dashboards attached.
bash "$root/scripts/bench_attach.sh" "$threads"
# The same with the default thread count (fitted to the CPU as it trains).
bash "$root/scripts/bench_attach.sh" 0 10000 4

# Photos, clean and disturbed, classified by a tutorial model trained here.
bash "$root/scripts/bench_photos.sh"

# The tutorial and fast models under a three-minute budget (scripts/bench_models.sh).
bash "$root/scripts/bench_models.sh" "$threads" 3m

bash "$root/scripts/bench_kernels.sh" "$threads"

bash "$root/scripts/bench_contention.sh"
