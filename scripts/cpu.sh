# Sourced by the bench scripts: `cpu_name` says which CPU a figure was measured on (vendor,
# family, model, the core generation where known, cores, and the flags that choose the
# kernels), for the header of every table.
cpu_name() {
  local vendor family model name flags gen="" has=()
  vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  family=$(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  model=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  name=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  if [ "$vendor" = AuthenticAMD ]; then
    # Family 25: Zen 3 at models 0x00-0x0f and 0x20-0x5f, Zen 4 at 0x10-0x1f and 0x60-;
    # family 26: Zen 5.
    case "$family" in
      23) gen="Zen 2 or earlier" ;;
      25) if { [ "$model" -ge 16 ] && [ "$model" -le 31 ]; } || [ "$model" -ge 96 ]; then
            gen="Zen 4"; else gen="Zen 3"; fi ;;
      26) gen="Zen 5" ;;
    esac
  fi
  for f in avx2 avx512f avx512_bf16; do
    case "$flags" in *" $f "*) has+=("$f") ;; *) has+=("no $f") ;; esac
  done
  local IFS=,
  echo "$name ($vendor family $family model $model${gen:+, $gen}; $(nproc) cores; ${has[*]})" | sed 's/,no/, no/g; s/,avx/, avx/g'
}
