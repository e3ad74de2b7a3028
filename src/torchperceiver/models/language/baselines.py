"""Context-free baselines for masked bytes: what a guess that never looks at the unmasked text scores.

Whole-word masking shows the model how long each masked word is (a run of ``[MASK]`` bytes), so the
strongest guess that ignores every other byte is the most frequent byte at each position of a word of
that length (``the`` for three-byte words, ``of``/``to``/``in`` mixed for two): the *context-free*
baseline. A model that beats it uses the context; one that only beats the unigram baseline may not.
"""

from __future__ import annotations

import numpy as np
import torch

from torchperceiver.models.language.masking import IGNORE_INDEX, word_ids
from torchperceiver.tokenizer import VOCAB_SIZE

#: Words longer than this share the table row of this length (their later bytes: the last column).
MAX_WORD_LEN = 24


def word_position_table(ids: np.ndarray, max_len: int = MAX_WORD_LEN) -> torch.Tensor:
    """``table[length, position]``: the most frequent byte id there in the words of ``ids`` (``[max_len+1]²``).

    Lengths and positions above ``max_len`` are clamped to it; cells never seen hold the overall most
    frequent in-word byte.
    """
    words = word_ids(ids)
    inside = words >= 0
    word_of = words[inside]
    lengths = np.bincount(word_of)[word_of]
    starts = np.flatnonzero(np.r_[True, word_of[1:] != word_of[:-1]])
    position = np.arange(len(word_of)) - np.repeat(starts, np.diff(np.r_[starts, len(word_of)]))
    cells = np.minimum(lengths, max_len) * (max_len + 1) + np.minimum(position, max_len)
    counts = np.zeros(((max_len + 1) ** 2, VOCAB_SIZE), dtype=np.int64)
    np.add.at(counts, (cells, ids[inside]), 1)
    fallback = int(np.bincount(ids[inside], minlength=VOCAB_SIZE).argmax()) if inside.any() else 0
    table = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
    return torch.from_numpy(table.reshape(max_len + 1, max_len + 1)).long()


def masked_runs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(length, position)`` ``[B, L]`` of each labelled byte within its run of consecutive labelled bytes
    (a masked word: words are separated by unmasked whitespace); 0 where unlabelled."""
    labelled = labels != IGNORE_INDEX
    flat = labelled.flatten()
    previous = torch.zeros_like(labelled)
    previous[:, 1:] = labelled[:, :-1]
    run = torch.cumsum((labelled & ~previous).flatten().long(), 0) - 1  # run index of each position
    index = torch.arange(flat.numel(), device=labels.device)
    num_runs = int(run[-1].item()) + 1 if flat.numel() else 0
    run_at = run.clamp(min=0)
    start = torch.full((max(num_runs, 1),), flat.numel(), device=labels.device, dtype=torch.long)
    start = start.scatter_reduce(0, run_at[flat], index[flat], reduce="amin")
    length = torch.zeros(max(num_runs, 1), device=labels.device, dtype=torch.long)
    length = length.scatter_add(0, run_at[flat], torch.ones_like(index[flat]))
    zero = torch.zeros_like(index)
    position = torch.where(flat, index - start[run_at], zero)
    return torch.where(flat, length[run_at], zero).view_as(labels), position.view_as(labels)


def context_free_correct(table: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How many labelled bytes the word-length/position guess of ``table`` gets right."""
    max_len = table.shape[0] - 1
    length, position = masked_runs(labels)
    guess = table.to(labels.device)[length.clamp(max=max_len), position.clamp(max=max_len)]
    return ((guess == labels) & (labels != IGNORE_INDEX)).sum()
