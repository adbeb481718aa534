#!/usr/bin/env bash
# Idempotent setup for fashion-tui: libtorch (from the PyPI torch wheel that matches
# tch), the Fashion-MNIST dataset where the system can provide it, and tmux for the
# end-to-end tests. Safe to run any number of times; each step is skipped when done.
#
# libtorch goes into a per-user cache outside the checkout, shared by every clone and
# by CI:  ${FASHION_TUI_CACHE:-${XDG_CACHE_HOME:-~/.cache}/fashion-tui}/libtorch-<ver>-<variant>
#   cpu  = torch wheel + CUDA runtime + CUPTI wheels (~1.2 GB): all libtorch_cpu.so needs
#   cuda = the above + every CUDA library libtorch_cuda.so needs (~4.6 GB)
# The variant is chosen by the presence of an NVIDIA GPU; FASHION_TUI_VARIANT overrides.
# On success, prints nothing but progress, and writes .cargo/config.toml so that plain
# `cargo build` / `cargo test` find libtorch.
set -euo pipefail

TORCH_VERSION=2.13.0          # must match torch-sys's TORCH_VERSION for tch 0.26
CUDA_TOOLKIT=13.0.3           # the cuda-toolkit the torch wheel pins
CUDA_RUNTIME="nvidia-cuda-runtime==13.0.96.* nvidia-cuda-cupti==13.0.85.*"
CUDA_FULL="cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==${CUDA_TOOLKIT} nvidia-cudnn-cu13==9.20.0.48 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.29.7 nvidia-nvshmem-cu13==3.4.5"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${FASHION_TUI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fashion-tui}

log() { printf 'setup: %s\n' "$*" >&2; }

have_gpu() {
  [ -e /dev/nvidiactl ] || { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }
}

variant=${FASHION_TUI_VARIANT:-}
if [ -z "$variant" ]; then
  if have_gpu; then variant=cuda; else variant=cpu; fi
fi
case "$variant" in cpu|cuda) ;; *) log "FASHION_TUI_VARIANT must be cpu or cuda, not '$variant'"; exit 2 ;; esac

prefix="$cache/libtorch-$TORCH_VERSION-$variant"
# A full CUDA install also serves CPU builds: reuse it rather than installing twice.
if [ "$variant" = cpu ] && [ -f "$cache/libtorch-$TORCH_VERSION-cuda/.complete" ]; then
  prefix="$cache/libtorch-$TORCH_VERSION-cuda"
fi

if [ ! -f "$prefix/.complete" ]; then
  command -v python3 >/dev/null || { log "python3 with pip is needed to fetch the torch wheel"; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  log "installing libtorch $TORCH_VERSION ($variant) into $prefix"
  # torch without its Python dependencies: only its shared libraries are used.
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tmp" "torch==$TORCH_VERSION"
  if [ "$variant" = cuda ]; then
    # shellcheck disable=SC2086
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$tmp/cuda" $CUDA_FULL
  else
    # shellcheck disable=SC2086
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tmp/cuda" $CUDA_RUNTIME
  fi
  # libtorch's RPATH looks in $ORIGIN/../../nvidia/...: put the nvidia tree beside torch/.
  mv "$tmp/cuda/nvidia" "$tmp/nvidia"
  rm -rf "$tmp/cuda"
  test -f "$tmp/torch/lib/libtorch_cpu.so" || { log "the torch wheel has no lib/libtorch_cpu.so"; exit 1; }
  test -e "$tmp/nvidia/cu13/lib/libcudart.so.13" || { log "CUDA runtime wheel missing libcudart.so.13"; exit 1; }
  echo "$TORCH_VERSION $variant" > "$tmp/.complete"
  rm -rf "$prefix"
  mv "$tmp" "$prefix"
  trap - EXIT
  log "libtorch ready: $(du -sh "$prefix" | cut -f1)"
fi

# Plain cargo finds libtorch through .cargo/config.toml (not committed: it names this machine's cache).
mkdir -p "$root/.cargo"
want="[env]
LIBTORCH = \"$prefix/torch\"
LIBTORCH_CXX11_ABI = \"1\"
"
if [ "$(cat "$root/.cargo/config.toml" 2>/dev/null || true)" != "$want" ]; then
  printf '%s' "$want" > "$root/.cargo/config.toml"
  log "wrote .cargo/config.toml (LIBTORCH=$prefix/torch)"
fi

# System packages: the dataset (Debian) and tmux (end-to-end tests). Only as root on Debian.
need=()
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install ${need[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
        || log "could not install ${need[*]}: the dataset will be downloaded at first use; the tmux tests fail until tmux is installed"
    fi
  else
    log "not root/Debian: ${need[*]} not installed (the dataset is downloaded at first use; the tmux tests fail without tmux)"
  fi
fi
