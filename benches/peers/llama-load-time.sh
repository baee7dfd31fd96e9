#!/usr/bin/env bash
# llama.cpp's load time for each installed model (benchmark-only peer), as
# llama-simple reports it ("load time", memory-mapped, no weight conversion),
# beside Warden's own load times printed at the end of `make bench`.
#
#   benches/peers/llama-load-time.sh           # print
#   benches/peers/llama-load-time.sh --save    # also write results/llama-cpp-load-time.txt
#
# Each model is loaded 3 times; the first run warms the page cache (Warden's
# figures are taken warm too); the two warm runs are reported.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/peers/llama.cpp/build/bin/llama-simple"
[[ -x "$BIN" ]] || { echo "$BIN missing: run benches/peers/build-llama-cpp.sh" >&2; exit 1; }
run() {
    echo "# llama.cpp load time (llama-simple -n 1), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    for model in SmolLM2-135M-Instruct.Q4_1.gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf \
                 gemma-3-270m-q4_k_m.gguf qwen2.5-coder-1.5b-instruct-q4_k_m.gguf; do
        [[ -f "$ROOT/models/$model" ]] || { echo "$model: not installed"; continue; }
        times=()
        for _ in 1 2 3; do
            times+=("$("$BIN" -m "$ROOT/models/$model" -n 1 "Hi" 2>&1 \
                | sed -n 's/.*load time = *\([0-9.]*\) ms.*/\1/p')")
        done
        echo "$model: load ${times[1]} ms, ${times[2]} ms (warm; cold first run ${times[0]} ms)"
    done
}
if [[ "${1:-}" == "--save" ]]; then
    run | tee "$ROOT/benches/peers/results/llama-cpp-load-time.txt"
else
    run
fi
