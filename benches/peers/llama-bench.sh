#!/usr/bin/env bash
# Run llama.cpp's llama-bench (benchmark-only peer) on one GGUF model.
#
#   benches/peers/llama-bench.sh models/SmolLM2-135M-Instruct.Q4_1.gguf
#   benches/peers/llama-bench.sh MODEL --save      # also write results/llama-cpp-<model>.txt
#
# Test shape (mirrors Warden's own benchmark): a 278-token prompt (pp278) and
# 64 generated tokens (tg64), threads 1 and 2, weight repacking disabled
# (--repack 0: no runtime conversion to interleaved layouts, so the kernels
# run on the GGUF's own block layout, like Warden does).
#
# Env overrides: THREADS (default "1,2"), REPACK (default "0"; "0,1" runs both),
# REPS (default 5), PROMPT (278), GEN (64), EXTRA (more llama-bench args).
#
# Caution: the machines have 2 cores. llama.cpp's threads busy-wait at every
# barrier, so with -t 2 and the other core busy (a cargo build, a running
# server) tg collapses by ~100x. The script records the load average before
# and after, and the CPU consumers at the start; rerun when the machine is idle.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/target/peers/llama.cpp/build/bin/llama-bench"
RESULTS="$ROOT/benches/peers/results"

MODEL="${1:?usage: llama-bench.sh MODEL.gguf [--save]}"
SAVE=0
[[ "${2:-}" == "--save" ]] && SAVE=1
[[ -f "$MODEL" ]] || MODEL="$ROOT/models/$MODEL"
[[ -f "$MODEL" ]] || { echo "no such model: $1" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "$BIN missing: run benches/peers/build-llama-cpp.sh" >&2; exit 1; }

THREADS="${THREADS:-1,2}"
REPACK="${REPACK:-0}"
REPS="${REPS:-5}"
PROMPT="${PROMPT:-278}"
GEN="${GEN:-64}"

REPACK_ARGS=()
if "$BIN" --help 2>&1 | grep -q -- '--repack'; then
    REPACK_ARGS=(--repack "$REPACK")
else
    echo "note: this llama-bench has no --repack flag; repack stays at its default" >&2
fi

CMD=("$BIN" -m "$MODEL" -p "$PROMPT" -n "$GEN" -t "$THREADS" -r "$REPS" "${REPACK_ARGS[@]}" -o md -oe jsonl ${EXTRA:-})

run() {
    echo "# llama.cpp peer: llama-bench $(basename "$MODEL")"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "llama.cpp: $(cat "$ROOT/target/peers/llama.cpp/VERSION" 2>/dev/null || echo '?')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) logical CPUs"
    echo "command: ${CMD[*]#$ROOT/}"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "busiest processes before (%CPU over 1 s, top):"
    top -b -n 2 -d 1 -w 200 2>/dev/null | awk '/^top -/{n++} n==2' | sed -n '8,10p' | awk '{print "    " $9 "% " $12}'
    echo
    local err
    err="$(mktemp)"
    "${CMD[@]}" 2>"$err"
    echo
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (includes llama-bench's own threads)"
    echo
    echo "## raw jsonl (llama-bench -oe jsonl)"
    grep '^{' "$err" || true
    if grep -qv '^{' "$err"; then
        echo
        echo "## stderr"
        grep -v '^{' "$err" || true
    fi
    rm -f "$err"
}

if [[ "$SAVE" == 1 ]]; then
    mkdir -p "$RESULTS"
    name="$(basename "$MODEL" .gguf)"
    run | tee "$RESULTS/llama-cpp-$name.txt"
else
    run
fi
