"""Text corpora as lists of documents (raw UTF-8 bytes: the models read bytes, so nothing is decoded).

Sources: ``"embedded"`` (Python's own ``pydoc_data/topics.py``, ~0.5 MB of English that ships with
every CPython, so training works offline), a text file (one document), a directory of ``.txt`` files
(one document each, sorted by path) or a ``.jsonl`` file with one JSON object per line.
"""

from __future__ import annotations

import json
from pathlib import Path

EMBEDDED = "embedded"


def read_corpus(source: str, text_field: str = "text") -> list[bytes]:
    """Non-empty documents of ``source``; a missing or empty source is a one-line ``ValueError``."""
    if source == EMBEDDED:
        docs = embedded_corpus()
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise ValueError(f"data.corpus: expected '{EMBEDDED}' or an existing path, got {source!r} (not found)")
        if path.is_dir():
            docs = read_text_dir(path)
        elif path.suffix == ".jsonl":
            docs = read_jsonl(path, text_field)
        else:
            docs = [path.read_bytes()]
    docs = [doc for doc in docs if doc.strip()]
    if not docs:
        raise ValueError(f"data.corpus: expected some text, got an empty corpus from {source!r}")
    return docs


def embedded_corpus() -> list[bytes]:
    """The documentation topics of ``help()``, one document per topic, in a fixed (sorted) order."""
    try:
        from pydoc_data.topics import topics
    except ImportError as err:
        raise ValueError(f"data.corpus: the embedded corpus needs the stdlib module pydoc_data ({err})") from err
    return [topics[name].encode("utf-8") for name in sorted(topics)]


def read_text_dir(path: Path) -> list[bytes]:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise ValueError(f"data.corpus: expected .txt files in directory {str(path)!r}, found none")
    return [f.read_bytes() for f in files]


def read_jsonl(path: Path, text_field: str) -> list[bytes]:
    docs = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"data.corpus: {path} line {number}"
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{where}: expected a JSON object, got a parse error ({err})") from err
        text = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"{where}: expected a string field {text_field!r}, got {raw.strip()[:80]!r}")
        docs.append(text.encode("utf-8"))
    return docs
