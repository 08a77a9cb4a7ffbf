#!/usr/bin/env bash
# Makes the benchmark models if needed, then runs the engine benchmark.
# LLAMA_BENCH=/path/to/llama-bench adds llama.cpp side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/make_models.sh
node bench/run.mjs
