"""Corpora larger than memory: masked windows streamed from sharded text, JSONL or parquet files.

Each rank reads its own shards (file ``k`` of the sorted list goes to rank ``k mod world``), in a fresh
seeded order every epoch, one document at a time (a ``.txt`` line, a ``.jsonl`` object's text field, a
parquet row's text column). Documents are joined by ``[SEP]`` and cut into windows, which pass through a
shuffle buffer. The whole position — epoch, file, byte offset or row, the unfinished window, the buffer
and its generator — is ``state_dict()``: the trainer saves it in each checkpoint and a resumed run reads
exactly the windows an uninterrupted one would. Reading must stay in the training process
(``train.num_workers: 0``): a worker's copy of the position never reaches a checkpoint.

``hf:NAME[:SUBSET]`` streams the train split of a Hugging Face dataset instead (a hub name or a local
dataset directory; the optional extra ``hf``): ``datasets`` splits its shards over the ranks and its own
``state_dict`` is the position. Its shuffle buffer is not used (``datasets`` does not save it, so a resume
would not be exact); the window buffer here does the shuffling.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from torchperceiver.models.language.masking import mask_words
from torchperceiver.tokenizer import BYTE_OFFSET, SEP

SUFFIXES = (".txt", ".jsonl", ".parquet")
HF_PREFIX = "hf:"


def document_stream(
    corpus: str, text_field: str, seed: int, rank: int = 0, world_size: int = 1
) -> DocumentStream | HubDocumentStream:
    """This rank's documents of ``corpus``: shard files (``shard_files``) or ``hf:NAME[:SUBSET]``."""
    if corpus.startswith(HF_PREFIX):
        return HubDocumentStream(corpus[len(HF_PREFIX) :], text_field, rank, world_size)
    return DocumentStream(shard_files(corpus), text_field, seed, rank, world_size)


def shard_files(pattern: str) -> list[Path]:
    """The shards of ``pattern``: a directory (its .txt/.jsonl/.parquet files, recursively), a glob or a file."""
    path = Path(pattern).expanduser()
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    else:
        files = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).suffix in SUFFIXES]
    if not files:
        raise ValueError(f"data.corpus: expected .txt, .jsonl or .parquet shards at {pattern!r}, found none")
    return sorted(files)


class DocumentStream:
    """This rank's documents, endlessly; ``position`` = (epoch, file in this epoch's order, offset in the file)."""

    def __init__(self, files: list[Path], text_field: str, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if len(files) < world_size:
            raise ValueError(
                f"data.corpus: expected at least one shard per rank ({world_size}), got {len(files)} files"
            )
        self.files, self.text_field, self.seed = files[rank::world_size], text_field, seed
        self.epoch, self.file, self.offset = 0, 0, 0

    def order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 2, self.epoch]).permutation(len(self.files))

    def documents(self) -> Iterator[bytes]:
        """From the current position on; the position advances as documents are taken."""
        while True:
            path = self.files[int(self.order()[self.file])]
            for offset, doc in self._read(path, self.offset):
                self.offset = offset
                if doc.strip():
                    yield doc
            self.file, self.offset = self.file + 1, 0
            if self.file == len(self.files):
                self.epoch, self.file = self.epoch + 1, 0

    def _read(self, path: Path, start: int) -> Iterator[tuple[int, bytes]]:
        """``(offset after the document, document)``; the offset is a byte position (rows for parquet)."""
        if path.suffix == ".parquet":
            yield from _parquet_rows(path, self.text_field, start)
            return
        with open(path, "rb") as f:
            f.seek(start)
            for number, line in enumerate(iter(f.readline, b"")):
                yield (
                    f.tell(),
                    _jsonl_text(line, self.text_field, path, start, number)
                    if path.suffix == ".jsonl"
                    else line.rstrip(b"\r\n"),
                )

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "file": self.file, "offset": self.offset}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.file, self.offset = state["epoch"], state["file"], state["offset"]


def _jsonl_text(line: bytes, field: str, path: Path, start: int, number: int) -> bytes:
    if not line.strip():
        return b""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"data.corpus: {path}: line {number + 1} after byte {start}: expected JSON ({err.msg})"
        ) from err
    text = record.get(field) if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise ValueError(
            f"data.corpus: {path}: line {number + 1} after byte {start}: expected a string field {field!r}"
        )
    return text.encode("utf-8")


def _parquet_rows(path: Path, field: str, start: int) -> Iterator[tuple[int, bytes]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ValueError(f"data.corpus: reading {path} needs pyarrow (pip install pyarrow)") from err
    reader = pq.ParquetFile(path)
    if field not in reader.schema_arrow.names:
        raise ValueError(f"data.corpus: {path}: expected a column {field!r}, got {reader.schema_arrow.names}")
    row = 0
    for group in range(reader.num_row_groups):
        size = reader.metadata.row_group(group).num_rows
        if row + size <= start:  # whole row groups before the position are skipped unread
            row += size
            continue
        for text in reader.read_row_group(group, columns=[field]).column(0).to_pylist():
            row += 1
            if row > start:
                yield row, (text or "").encode("utf-8")


class HubDocumentStream:
    """The train split of a Hugging Face dataset, streamed endlessly (one pass per epoch, in the dataset's order)."""

    def __init__(self, spec: str, text_field: str, rank: int = 0, world_size: int = 1) -> None:
        from torchperceiver.models.language.hf_datasets import require_datasets

        datasets = require_datasets("data.corpus")
        from datasets.distributed import split_dataset_by_node

        name, _, subset = spec.partition(":")
        if not name:
            raise ValueError(f"data.corpus: expected hf:NAME or hf:NAME:SUBSET, got {HF_PREFIX + spec!r}")
        stream = datasets.load_dataset(name, subset or None, split="train", streaming=True)
        if text_field not in (stream.column_names or [text_field]):
            raise ValueError(
                f"data.text_field: expected a column of {name} in {stream.column_names}, got {text_field!r}"
            )
        self.dataset = split_dataset_by_node(stream, rank=rank, world_size=world_size)
        self.text_field, self.epoch = text_field, 0
        self._start = self.dataset.state_dict()  # a pass from the beginning

    def documents(self) -> Iterator[bytes]:
        """From the current position on (``load_state_dict`` sets where the next pass starts)."""
        while True:
            for record in self.dataset:
                text = record.get(self.text_field)
                if isinstance(text, str) and text.strip():
                    yield text.encode("utf-8")
            self.epoch += 1
            self.dataset.load_state_dict(self._start)  # a loaded position holds for one pass only

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "dataset": self.dataset.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.dataset.load_state_dict(state["dataset"])


class StreamingWindows(Dataset):
    """Masked windows of ``seq_len`` ids from a ``DocumentStream`` through a shuffle buffer of ``buffer`` windows.

    Index ``i`` only seeds the masking: items must be requested in increasing order (the trainer does), each
    request taking the next window of the stream.
    """

    def __init__(
        self, stream: DocumentStream | HubDocumentStream, seq_len: int, mask_prob: float, buffer: int, seed: int
    ) -> None:
        if buffer < 1:
            raise ValueError(f"data.shuffle_buffer: expected a positive int, got {buffer}")
        self.stream, self.seq_len, self.mask_prob, self.buffer_size, self.seed = (
            stream,
            seq_len,
            mask_prob,
            buffer,
            seed,
        )
        self.rng = np.random.default_rng([seed, 3])
        self.pending = np.zeros(0, dtype=np.int16)  # ids read but not yet cut into a window
        self.buffer: list[np.ndarray] = []
        self._documents: Iterator[bytes] | None = None

    def __len__(self) -> int:
        return self.buffer_size  # nominal: the stream has no end

    def _next_window(self) -> np.ndarray:
        if self._documents is None:
            self._documents = self.stream.documents()
        while len(self.pending) < self.seq_len:
            doc = np.frombuffer(next(self._documents), dtype=np.uint8).astype(np.int16) + BYTE_OFFSET
            joined = [self.pending, np.array([SEP], dtype=np.int16), doc] if len(self.pending) else [doc]
            self.pending = np.concatenate(joined)
        window, self.pending = self.pending[: self.seq_len], self.pending[self.seq_len :]
        return window

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        while len(self.buffer) < self.buffer_size:
            self.buffer.append(self._next_window())
        slot = int(self.rng.integers(len(self.buffer)))
        window, self.buffer[slot] = self.buffer[slot], self._next_window()
        inputs, labels = mask_words(window, self.mask_prob, np.random.default_rng([self.seed, 1, int(index)]))
        return {
            "input_ids": torch.from_numpy(inputs.astype(np.int64)),
            "labels": torch.from_numpy(labels.astype(np.int64)),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything the next windows depend on (the stream position is where ``pending`` ends)."""
        return {
            "stream": self.stream.state_dict(),
            "rng": self.rng.bit_generator.state,
            "pending": torch.from_numpy(self.pending.copy()),  # tensors: checkpoints load with weights_only
            "buffer": [torch.from_numpy(w.copy()) for w in self.buffer],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state["stream"])
        self.rng.bit_generator.state = state["rng"]
        self.pending = state["pending"].numpy().astype(np.int16)
        self.buffer = [w.numpy().astype(np.int16) for w in state["buffer"]]
        self._documents = None  # restart reading at the restored position
