"""Masked language modelling on bytes (paper §4.1): the ``language-mlm`` preset, whole-word masking.

Loss is the cross-entropy at masked bytes; metrics are the masked-byte accuracy and, on the held-out
set, two baselines scored on the very same bytes: the unigram one (always predicting the byte
distribution of words in the training split) and the context-free one (the most frequent byte at each
position of a word of the masked length: ``baselines.py``). Every evaluation thus says how far above
chance the model is, and how much of that comes from the context rather than from the word lengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.adapters.text import labelled_positions
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.language.baselines import context_free_correct, word_position_table
from torchperceiver.models.language.corpus import EMBEDDED, read_corpus
from torchperceiver.models.language.masking import (
    IGNORE_INDEX,
    MaskedWindows,
    concatenate,
    hold_out,
    mask_words,
    word_ids,
)
from torchperceiver.models.language.streaming import StreamingWindows, document_stream
from torchperceiver.presets import ModelSection
from torchperceiver.tokenizer import BYTE_OFFSET, MASK, VOCAB_SIZE, ByteTokenizer
from torchperceiver.training.task import Batch, TaskOutput, register_task


@dataclass
class MLMDataConfig:
    """``corpus``: ``embedded``, a text file, a directory of ``.txt`` files or a ``.jsonl`` file.

    About ``eval_fraction`` of the corpus is held out for evaluation, in blocks spread over all of it.
    ``streaming``: a corpus larger than memory (``streaming.py``): ``corpus`` is a directory or glob of
    ``.txt`` (a document per line), ``.jsonl`` or ``.parquet`` shards read as a stream through a shuffle
    buffer of ``shuffle_buffer`` windows; evaluation reads ``eval_corpus`` (any in-memory source; none: no
    evaluation) and the baselines count the first ``baseline_bytes`` of the stream.
    ``decode_masked_only``: query the decoder at the masked bytes only (same loss, less work; on a GPU it
    reads the number of masked bytes on the host, one sync per micro-batch; false decodes every byte).
    """

    corpus: str = EMBEDDED
    text_field: str = "text"
    seq_len: int = 2048
    mask_prob: float = 0.15
    eval_fraction: float = 0.05
    decode_masked_only: bool = True
    streaming: bool = False
    shuffle_buffer: int = 1000
    eval_corpus: str | None = None
    baseline_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        if self.seq_len < 1:
            raise ValueError(f"data.seq_len: expected a positive int, got {self.seq_len!r}")
        if not 0 < self.mask_prob < 1:
            raise ValueError(f"data.mask_prob: expected a value in (0, 1), got {self.mask_prob!r}")
        if not 0 <= self.eval_fraction < 1:
            raise ValueError(f"data.eval_fraction: expected a value in [0, 1), got {self.eval_fraction!r}")


@register_task
class MLMTask:
    name: ClassVar[str] = "mlm"
    default_preset: ClassVar[str] = "language-mlm"
    sections: ClassVar[dict[str, type]] = {"data": MLMDataConfig}

    def __init__(self, model: ModelSection, data: MLMDataConfig, seed: int = 0) -> None:
        max_seq_len = model.arguments().get("max_seq_len")
        if not isinstance(max_seq_len, int):
            raise ValueError(f"model.preset: expected a masked-LM preset with max_seq_len, got {model.preset!r}")
        if data.seq_len > max_seq_len:
            raise ValueError(f"data.seq_len: expected at most model.max_seq_len={max_seq_len}, got {data.seq_len}")
        self.model_cfg, self.data_cfg, self.seed = model, data, seed
        self._train: MaskedWindows | StreamingWindows
        if data.streaming:
            self._train = streamed_windows(data, seed)
            self.train_ids = stream_sample(data, seed)
            self.eval_ids = (
                concatenate(read_corpus(data.eval_corpus, data.text_field)) if data.eval_corpus else self.train_ids[:0]
            )
        else:
            ids = concatenate(read_corpus(data.corpus, data.text_field))
            self.train_ids, self.eval_ids = hold_out(ids, data.eval_fraction, block=4 * data.seq_len)
            self._train = MaskedWindows(self.train_ids, data.seq_len, data.mask_prob, seed, shuffle=True)
        self.unigram_log_probs = unigram_log_probs(self.train_ids)
        self.word_position_table = word_position_table(self.train_ids)
        self._eval = None
        if len(self.eval_ids):
            self._eval = MaskedWindows(self.eval_ids, data.seq_len, data.mask_prob, seed, shuffle=False)

    def build_model(self) -> PerceiverIO:
        return self.model_cfg.build()

    def model_config(self, model: PerceiverIO) -> dict[str, Any]:
        return model.config.to_dict()

    def train_dataset(self) -> MaskedWindows | StreamingWindows:
        return self._train

    def eval_dataset(self) -> MaskedWindows | None:
        return self._eval

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        labels = batch["labels"]
        targets = labels != IGNORE_INDEX
        count = targets.sum()
        if self.data_cfg.decode_masked_only:  # the loss reads ~15 % of the logits: decode only those queries
            positions, read = labelled_positions(labels, IGNORE_INDEX, multiple_of=8)
            logits = model(batch["input_ids"], positions=positions)
        else:
            logits, read = model(batch["input_ids"]), labels
        loss = F.cross_entropy(logits.flatten(0, 1).float(), read.flatten(), ignore_index=IGNORE_INDEX, reduction="sum")
        metrics = {"accuracy": (((logits.argmax(-1) == read) & (read != IGNORE_INDEX)).sum(), count)}
        if not model.training:
            metrics.update(self._unigram_metrics(labels, targets, count))
        return TaskOutput(loss, count, metrics)

    def _unigram_metrics(
        self, labels: torch.Tensor, targets: torch.Tensor, count: torch.Tensor
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        log_probs = self.unigram_log_probs.to(labels.device)
        nll = -(log_probs[labels.clamp(min=0)] * targets).sum()
        correct = ((labels == log_probs.argmax()) & targets).sum()
        return {
            "unigram_loss": (nll, count),
            "unigram_accuracy": (correct, count),
            "context_free_accuracy": (context_free_correct(self.word_position_table, labels), count),
        }

    def demo(self, model: nn.Module) -> str:
        """Held-out text (the training text if none) with some words masked, and what the model fills in."""
        window = prose_window(self.eval_ids if len(self.eval_ids) else self.train_ids, min(self.data_cfg.seq_len, 160))
        inputs, _ = mask_words(window, self.data_cfg.mask_prob, np.random.default_rng(self.seed))
        tokenizer = ByteTokenizer()
        masked = tokenizer.decode(inputs.tolist(), skip_special=False).replace("[MASK]", "_")
        filled = fill_mask_ids(model, torch.from_numpy(inputs.astype(np.int64)))
        return "\n".join(
            [
                f"masked:    {_one_line(masked)}",
                f"predicted: {_one_line(tokenizer.decode(filled))}",
                f"original:  {_one_line(tokenizer.decode(window.tolist()))}",
            ]
        )


def streamed_windows(data: MLMDataConfig, seed: int) -> StreamingWindows:
    """This rank's masked windows of the sharded corpus ``data.corpus``."""
    import torch.distributed as dist

    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
    stream = document_stream(data.corpus, data.text_field, seed, rank, world)
    return StreamingWindows(stream, data.seq_len, data.mask_prob, data.shuffle_buffer, seed)


def stream_sample(data: MLMDataConfig, seed: int) -> np.ndarray:
    """The first ``baseline_bytes`` of the stream (rank 0's order): what the baselines are counted on."""
    docs, size = [], 0
    for doc in document_stream(data.corpus, data.text_field, seed).documents():
        docs.append(doc)
        size += len(doc)
        if size >= data.baseline_bytes:
            break
    return concatenate(docs)


def prose_window(ids: np.ndarray, width: int) -> np.ndarray:
    """The window of ``ids`` (on a ``width`` grid) richest in letters and spaces: a readable example."""
    ids = ids[: len(ids) - len(ids) % width] if len(ids) >= width else ids
    windows = ids.reshape(-1, min(width, len(ids)))
    text = windows - BYTE_OFFSET
    prose = ((text >= ord("a")) & (text <= ord("z"))) | (text == ord(" "))
    return windows[prose.mean(axis=1).argmax()]


def unigram_log_probs(ids: np.ndarray) -> torch.Tensor:
    """Log-frequencies of the bytes inside words (what masking hides), add-one smoothed."""
    counts = np.bincount(ids[word_ids(ids) >= 0], minlength=VOCAB_SIZE)[:VOCAB_SIZE] + 1.0
    return torch.from_numpy(np.log(counts / counts.sum())).float()


@torch.no_grad()
def fill_mask_ids(model: nn.Module, input_ids: torch.Tensor) -> list[int]:
    """``input_ids`` (1-D) with every ``[MASK]`` replaced by the model's most likely byte."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        logits = model(input_ids[None].to(device))[0].float().cpu()
    finally:
        model.train(was_training)
    logits[:, :BYTE_OFFSET] = -torch.inf  # predict bytes, never special tokens
    return torch.where(input_ids == MASK, logits.argmax(-1), input_ids).tolist()


def fill_mask(model: PerceiverIO, text: str, width: int = 1) -> str:
    """Fill each ``[MASK]`` of ``text`` (``width`` bytes each) with the model's most likely bytes."""
    if width < 1:
        raise ValueError(f"width: expected a positive int, got {width}")
    if "[MASK]" not in text:
        raise ValueError(f"text: expected at least one [MASK], got {text!r}")
    tokenizer = ByteTokenizer()
    ids: list[int] = []
    for i in tokenizer.encode(text, parse_special=True):
        ids.extend([i] * (width if i == MASK else 1))
    max_len = getattr(model.config.input_adapter, "max_seq_len", 0)
    if len(ids) > max_len:
        raise ValueError(f"text: expected at most {max_len} bytes (the model's max_seq_len), got {len(ids)}")
    return tokenizer.decode(fill_mask_ids(model, torch.tensor(ids)))


def _one_line(text: str) -> str:
    return " ".join(text.split())
