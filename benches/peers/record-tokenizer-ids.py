#!/usr/bin/env python3
"""Regenerate tests/fixtures/tokenizer_ids.json from llama.cpp's tokenizer.

llama.cpp is a benchmark/reference peer only (build it with
benches/peers/build-llama-cpp.sh). For every model and every string below this
runs

    llama-tokenize -m MODEL -f FILE --ids --no-bos --no-escape --log-disable

where FILE holds the string's exact UTF-8 bytes (-f reads the file verbatim,
so leading/trailing whitespace and newlines survive; --no-escape stops
llama.cpp from turning a literal backslash-n into a newline). llama-tokenize
parses special tokens by default (there is no --parse-special flag for it;
--no-parse-special turns it off), so "<|im_start|>" becomes its control-token
id. --no-bos: no BOS is prepended even if the GGUF asks for one (neither model
does: tokenizer.ggml.add_bos_token = false for both).

Each entry also carries "ids_no_parse_special": the same text tokenized with
--no-parse-special, i.e. how markup typed by a *user* must be tokenized
(as plain text, never as control tokens).

Only the Python standard library is needed:
    python3 benches/peers/record-tokenizer-ids.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
PEER = ROOT / "target" / "peers" / "llama.cpp"
TOKENIZE = Path(os.environ.get("LLAMA_TOKENIZE", PEER / "build" / "bin" / "llama-tokenize"))
OUT = ROOT / "tests" / "fixtures" / "tokenizer_ids.json"

MODEL_FILES = [
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
]

FLAGS = ["--ids", "--no-bos", "--no-escape", "--log-disable"]

# (label, text). Labels are for humans; tests should key on the text.
STRINGS: list[tuple[str, str]] = [
    ("english", "The quick brown fox jumps over the lazy dog."),
    ("leading_space", " Hello world"),
    ("leading_trailing_spaces", "  two leading spaces and one trailing "),
    ("contractions_punct", "Hello, world! I'm here; you're there — isn't it? We'll see..."),
    ("rust_code", 'fn main() { println!("hi"); }'),
    ("python_code",
     "def greet(name):\n"
     "    if name:\n"
     "        return f\"Hello, {name}!\"\n"
     "    return None\n"),
    ("german_umlauts", "Größe der Straße"),
    ("emoji", "🙂👍"),
    ("emoji_zwj", "👩‍💻 and 🇩🇪"),
    ("cjk", "日本語のテキスト"),
    ("french_accents", "Où est la bibliothèque ? C'était déjà très agréable, garçon."),
    ("cyrillic", "Привет, мир!"),
    ("digits_invoice", "Invoice 1234567 dated 2026-11-24, total €1,299.50"),
    ("digits_math", "3.14159 + 2.71828 = 5.85987; 1000000 / 7 ≈ 142857.14"),
    ("chat_markup", "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"),
    ("chat_markup_system",
     "<|im_start|>system\nYou are Warden, a helpful assistant.<|im_end|>\n"
     "<|im_start|>user\nWhat is our VPN policy?<|im_end|>\n<|im_start|>assistant\n"),
    ("endoftext", "end of document<|endoftext|>"),
    ("tool_call_markup", "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"VPN\"}}\n</tool_call>"),
    ("spaces_tabs", "a  b   c\t\td\t \te    f"),
    ("single_space", " "),
    ("newlines", "\n\n\n"),
    ("crlf", "line one\r\nline two\r\n"),
    ("url", "https://intranet.example.com/wiki/Policies?id=42&lang=en#section-3"),
    ("markdown_citations",
     "According to the handbook [1], remote work requires approval [2].\n\n"
     "## Sources\n- **Employee Handbook** [1]\n- *IT Policy* (p. 4) [2]"),
    ("uppercase_long_word", "HELLO WORLD Antidisestablishmentarianism"),
    ("empty", ""),
]


def run_tokenize(model: Path, text: str, parse_special: bool) -> list[int]:
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(text.encode("utf-8"))
        path = f.name
    try:
        cmd = [str(TOKENIZE), "-m", str(model), "-f", path, *FLAGS]
        if not parse_special:
            cmd.append("--no-parse-special")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{proc.stderr}")
        # --ids prints one Python-style list on its own line
        lines = [l for l in proc.stdout.splitlines() if l.startswith("[")]
        if len(lines) != 1:
            raise RuntimeError(f"unexpected output from {cmd}:\n{proc.stdout}\n{proc.stderr}")
        return json.loads(lines[0])
    finally:
        os.unlink(path)


def llama_cpp_version() -> str:
    proc = subprocess.run([str(TOKENIZE), "--version"], capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith("version:"):
            return line.split(":", 1)[1].strip()  # e.g. "0.5.0-dev (build 1, commit 0c1e570)"
    return "unknown"


def main() -> int:
    if not TOKENIZE.exists():
        print(f"{TOKENIZE} missing: run benches/peers/build-llama-cpp.sh first", file=sys.stderr)
        return 1
    pinned = (PEER / "VERSION").read_text().strip() if (PEER / "VERSION").exists() else "unknown"
    out = {
        "generator": f"llama.cpp {llama_cpp_version()} [{pinned}] "
                     f"llama-tokenize -m MODEL -f TEXTFILE {' '.join(FLAGS)}",
        "settings": {
            "add_bos": False,
            "parse_special": True,
            "escape_processing": False,
            "input": "exact UTF-8 bytes of `text` read from a file (-f, verbatim)",
            "ids_no_parse_special": "same, plus --no-parse-special (special-token markup tokenized as plain text)",
        },
        "models": {},
    }
    for name in MODEL_FILES:
        model = MODELS / name
        if not model.exists():
            print(f"missing {model}", file=sys.stderr)
            return 1
        entries = []
        for label, text in STRINGS:
            entries.append({
                "label": label,
                "text": text,
                "ids": run_tokenize(model, text, parse_special=True),
                "ids_no_parse_special": run_tokenize(model, text, parse_special=False),
            })
        out["models"][name] = entries
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(STRINGS)} strings x {len(MODEL_FILES)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
