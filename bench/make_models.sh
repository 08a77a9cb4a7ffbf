#!/usr/bin/env bash
# Makes the benchmark models in bench/models/ (gitignored) with
# `ollamamax synth`: random weights in the exact shapes of TinyLlama-1.1B
# (Q4_0, Q8_0, Q4_K_M) and Qwen2.5-0.5B (Q4_K_M). Speed does not depend on
# the weight values. Files that already exist are kept. Each file is checked
# against the size llama.cpp's quantizer gives for the real model.
#
# Env: OM_BIN (default build/ollamamax), SYNTH_THREADS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${OM_BIN:-build/ollamamax}
threads=${SYNTH_THREADS:-$(nproc)}
out=bench/models
mkdir -p "$out"

if [ ! -x "$bin" ]; then
  echo "make_models: $bin not found; build first (cmake --build build)" >&2
  exit 1
fi

# name preset type min_bytes max_bytes
models=(
  "tinyllama-1.1b-q4_0.gguf   tinyllama-1.1b q4_0   600000000  640000000"
  "tinyllama-1.1b-q8_0.gguf   tinyllama-1.1b q8_0   1100000000 1200000000"
  "tinyllama-1.1b-q4_k_m.gguf tinyllama-1.1b q4_K_M 640000000  670000000"
  "qwen2.5-0.5b-q4_k_m.gguf   qwen2.5-0.5b   q4_K_M 380000000  420000000"
)

status=0
for m in "${models[@]}"; do
  read -r file preset type min max <<<"$m"
  path="$out/$file"
  if [ -f "$path" ]; then
    echo "make_models: $path exists, kept"
  else
    echo "make_models: writing $path ($preset, $type, $threads threads)"
    start=$(date +%s)
    "$bin" synth --preset "$preset" --type "$type" -t "$threads" -q -o "$path"
    echo "make_models: $path done in $(( $(date +%s) - start )) s"
  fi
  size=$(stat -c %s "$path")
  if [ "$size" -lt "$min" ] || [ "$size" -gt "$max" ]; then
    echo "make_models: $path is $size bytes, expected $min..$max" >&2
    status=1
  else
    echo "make_models: $path $size bytes (ok)"
  fi
done
exit $status
