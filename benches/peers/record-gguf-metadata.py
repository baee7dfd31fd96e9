#!/usr/bin/env python3
"""Record GGUF tokenizer/chat metadata of Warden's generation models.

Writes tests/fixtures/gguf_metadata.json. Reads the GGUF key/value metadata
with the `gguf` package (PyPI, the reader maintained inside llama.cpp) and,
when the llama.cpp peer is built (benches/peers/build-llama-cpp.sh), also
records how llama.cpp itself interprets the special tokens (its BOS/EOS/EOT
and end-of-generation set, which llama.cpp partly infers from token texts).

Usage (from the repository root):
    target/peers/venv/bin/python benches/peers/record-gguf-metadata.py
"""
from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import gguf  # pip install gguf

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
OUT = ROOT / "tests" / "fixtures" / "gguf_metadata.json"
TOKENIZE = ROOT / "target" / "peers" / "llama.cpp" / "build" / "bin" / "llama-tokenize"
MODEL_FILES = [
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
]
# gguf token_type values (llama.cpp's llama_token_type)
TOKEN_TYPE_NAMES = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}


def field(reader: gguf.GGUFReader, key: str):
    f = reader.fields.get(key)
    if f is None:
        return None
    return f.contents()


def llama_cpp_view(model: Path) -> dict | None:
    """Special tokens as llama.cpp's loader reports them (verbose log)."""
    if not TOKENIZE.exists():
        return None
    proc = subprocess.run(
        [str(TOKENIZE), "-m", str(model), "-p", "x", "--ids", "--no-bos", "-v"],
        capture_output=True, text=True, check=True,
    )
    view: dict = {"eog_ids": []}
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.search(r"print_info: (\w[\w ]*?) token\s+= (\d+) '(.*)'$", line)
        if m:
            name = m.group(1).strip().lower().replace(" ", "_")
            tid = int(m.group(2))
            if name == "eog":
                view["eog_ids"].append(tid)
            else:
                view[f"{name}_id"] = tid
            continue
        m = re.search(r"print_info: (n_vocab|n_merges|vocab type)\s+= (.*)$", line)
        if m:
            view[m.group(1).replace(" ", "_")] = m.group(2).strip()
    return view


def describe(path: Path) -> dict:
    r = gguf.GGUFReader(str(path))
    arch = field(r, "general.architecture")
    tokens = field(r, "tokenizer.ggml.tokens") or []
    types = field(r, "tokenizer.ggml.token_type") or []
    special = {}
    for i, (tok, ty) in enumerate(zip(tokens, types)):
        if ty in (3, 4):  # control, user_defined
            special[str(i)] = {"text": tok, "type": TOKEN_TYPE_NAMES.get(ty, str(ty))}
    return {
        "architecture": arch,
        "name": field(r, "general.name"),
        "file_type": field(r, "general.file_type"),
        "file_size": path.stat().st_size,
        "context_length": field(r, f"{arch}.context_length"),
        "embedding_length": field(r, f"{arch}.embedding_length"),
        "block_count": field(r, f"{arch}.block_count"),
        "head_count": field(r, f"{arch}.attention.head_count"),
        "head_count_kv": field(r, f"{arch}.attention.head_count_kv"),
        "rope_freq_base": field(r, f"{arch}.rope.freq_base"),
        "rms_norm_eps": field(r, f"{arch}.attention.layer_norm_rms_epsilon"),
        "model": field(r, "tokenizer.ggml.model"),
        "pre": field(r, "tokenizer.ggml.pre"),
        "vocab_size": len(tokens),
        "arch_vocab_size": field(r, f"{arch}.vocab_size"),
        "merges_count": len(field(r, "tokenizer.ggml.merges") or []),
        "add_bos": field(r, "tokenizer.ggml.add_bos_token"),
        "add_eos": field(r, "tokenizer.ggml.add_eos_token"),
        "add_space_prefix": field(r, "tokenizer.ggml.add_space_prefix"),
        "bos_id": field(r, "tokenizer.ggml.bos_token_id"),
        "eos_id": field(r, "tokenizer.ggml.eos_token_id"),
        "eot_id": field(r, "tokenizer.ggml.eot_token_id"),
        "eom_id": field(r, "tokenizer.ggml.eom_token_id"),
        "unk_id": field(r, "tokenizer.ggml.unknown_token_id"),
        "pad_id": field(r, "tokenizer.ggml.padding_token_id"),
        "special_tokens": special,
        "chat_template": field(r, "tokenizer.chat_template"),
        "llama_cpp": llama_cpp_view(path),
    }


def main() -> int:
    out = {
        "generator": f"benches/peers/record-gguf-metadata.py (gguf python package {importlib.metadata.version('gguf')})",
        "notes": "null = key absent from the GGUF. vocab_size = len(tokenizer.ggml.tokens). "
                 "special_tokens = token_type control(3)/user_defined(4). "
                 "llama_cpp = how llama.cpp's loader resolves special tokens (EOT/EOG are partly inferred from token text when not in the metadata).",
        "models": {},
    }
    for name in MODEL_FILES:
        path = MODELS / name
        if not path.exists():
            print(f"missing {path}", file=sys.stderr)
            return 1
        out["models"][name] = describe(path)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
