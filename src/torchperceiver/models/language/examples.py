"""Labelled texts as model inputs: UTF-8 byte ids, a text pair joined by ``[SEP]``, padded to ``seq_len``.

A pair that does not fit loses bytes from the end of its longer text first (HF's ``longest_first``), so a
long premise never pushes the hypothesis out of the window.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from torchperceiver.models.language.tables import LabelledText
from torchperceiver.tokenizer import BYTE_OFFSET, PAD, SEP


def encode_text(text: str, text_pair: str | None, seq_len: int) -> list[int]:
    """Byte ids of ``text`` (``[SEP]`` ``text_pair``), at most ``seq_len`` of them."""
    first = [b + BYTE_OFFSET for b in text.encode("utf-8")]
    if text_pair is None:
        return first[:seq_len]
    second = [b + BYTE_OFFSET for b in text_pair.encode("utf-8")]
    n1, n2 = _fit(len(first), len(second), seq_len - 1)
    return [*first[:n1], SEP, *second[:n2]]


def _fit(n1: int, n2: int, budget: int) -> tuple[int, int]:
    """Lengths that fit ``budget``: shorten the longer side down to the shorter, then both alike."""
    excess = n1 + n2 - budget
    if excess <= 0:
        return n1, n2
    cut = min(excess, abs(n1 - n2))
    n1, n2 = (n1 - cut, n2) if n1 > n2 else (n1, n2 - cut)
    excess -= cut
    return n1 - (excess + 1) // 2, n2 - excess // 2


def pad_ids(ids: list[int], seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids [seq_len], attention_mask [seq_len] bool)``."""
    padded = torch.full((seq_len,), PAD, dtype=torch.long)
    padded[: len(ids)] = torch.tensor(ids, dtype=torch.long)
    mask = torch.zeros(seq_len, dtype=torch.bool)
    mask[: len(ids)] = True
    return padded, mask


class TextExamples(Dataset):
    """Item ``i``: ``{"input_ids", "attention_mask", "labels"}`` (+ ``"task"`` when ``task_index`` is set).

    ``labels`` is a float for a regression task, an int64 class index otherwise.
    """

    def __init__(
        self, examples: Sequence[LabelledText], seq_len: int, regression: bool = False, task_index: int | None = None
    ) -> None:
        if seq_len < 2:
            raise ValueError(f"data.seq_len: expected at least 2, got {seq_len}")
        self.examples, self.seq_len, self.regression, self.task_index = examples, seq_len, regression, task_index

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        example = self.examples[index]
        input_ids, mask = pad_ids(encode_text(example.text, example.text_pair, self.seq_len), self.seq_len)
        dtype = torch.float32 if self.regression else torch.long
        item = {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor(example.label, dtype=dtype)}
        if self.task_index is not None:
            item["task"] = torch.tensor(self.task_index)
        return item


def trim_padding(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` cut to the longest text of the batch: no work on all-padding columns."""
    mask = batch["attention_mask"]
    length = max(1, int(mask.sum(dim=1).max()))
    return batch["input_ids"][:, :length], mask[:, :length]
