#!/usr/bin/env bash
# Build llama.cpp as a *benchmark-only peer* for Warden.
#
# llama.cpp is never a runtime dependency of Warden: it is only used to
#   * record reference tokenizer ids (tests/fixtures/tokenizer_ids.json), and
#   * measure prompt-processing / generation speed of the same GGUF files.
#
# Source: the `llama-cpp-python` source distribution on PyPI, which vendors
# llama.cpp (vendor/llama.cpp, including its git metadata, so the exact commit
# is known). Only package registries are reachable from our machines, so this
# is the reproducible way to get a pinned llama.cpp.
#
# Output: target/peers/llama.cpp/build/bin/{llama-bench,llama-tokenize,llama-simple}
#         target/peers/llama.cpp/VERSION   (llama-cpp-python version + llama.cpp commit)
#
# Build: CPU only, Release, static, -march=native but with every AMX ISA
# extension forced off (GGML_AMX_*=OFF and -mno-amx-*): on some of our VMs the
# compiler/CPUID advertise AMX that the kernel does not enable, and a native
# build then segfaults inside ggml's AMX matmul.
#
# Idempotent: does nothing when the binaries already exist (FORCE=1 rebuilds).
#
# Env overrides:
#   LLAMA_CPP_PYTHON_VERSION  (default 0.3.36 -> llama.cpp 0c1e570)
#   JOBS                      (default 2)
#   FORCE=1                   rebuild even if binaries exist
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="$ROOT/target/peers"
PREFIX="$PEERS/llama.cpp"
BUILD="$PREFIX/build"
BIN="$BUILD/bin"
VENV="$PEERS/venv"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
JOBS="${JOBS:-2}"
TARGETS=(llama-bench llama-tokenize llama-simple)

have_all() {
    local t
    for t in "${TARGETS[@]}"; do
        [[ -x "$BIN/$t" ]] || return 1
    done
}

if [[ "${FORCE:-0}" != 1 ]] && have_all; then
    echo "llama.cpp peer already built in $BIN ($(cat "$PREFIX/VERSION" 2>/dev/null || echo '?'))"
    exit 0
fi

mkdir -p "$PREFIX/dl"

# --- a Python venv for build tools (cmake) and the other peers -------------
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi

CMAKE="$(command -v cmake || true)"
if [[ -z "$CMAKE" ]]; then
    if [[ ! -x "$VENV/bin/cmake" ]]; then
        echo "cmake not on PATH: installing the cmake wheel from PyPI into $VENV"
        "$VENV/bin/python" -m pip install -q cmake
    fi
    CMAKE="$VENV/bin/cmake"
fi
echo "using $("$CMAKE" --version | head -1) at $CMAKE"

# --- fetch the pinned sdist -------------------------------------------------
SDIST="$PREFIX/dl/llama_cpp_python-$VERSION.tar.gz"
if [[ ! -f "$SDIST" ]]; then
    # --no-binary only for llama-cpp-python itself: its build dependencies
    # (scikit-build-core, cmake, ninja) come as wheels when pip prepares the
    # sdist's metadata (with --no-binary :all: pip would compile cmake itself).
    "$VENV/bin/python" -m pip download -q --no-deps \
        --no-binary llama-cpp-python \
        -d "$PREFIX/dl" "llama-cpp-python==$VERSION"
fi

SRCROOT="$PREFIX/llama_cpp_python-$VERSION"
SRC="$SRCROOT/vendor/llama.cpp"
if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
    tar -xzf "$SDIST" -C "$PREFIX"
fi

COMMIT="unknown"
if command -v git >/dev/null 2>&1; then
    COMMIT="$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)"
fi
echo "llama-cpp-python $VERSION, llama.cpp commit $COMMIT"

# --- configure + build --------------------------------------------------------
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
"$CMAKE" -S "$SRC" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=ON \
    -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
    -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_EXAMPLES=ON

"$CMAKE" --build "$BUILD" --config Release -j "$JOBS" --target "${TARGETS[@]}"

have_all || { echo "build finished but binaries are missing in $BIN" >&2; exit 1; }
echo "llama-cpp-python $VERSION llama.cpp $COMMIT" > "$PREFIX/VERSION"
echo "built: $(ls "$BIN" | tr '\n' ' ')"
