"""Masked-language-model samples: the corpus as one byte stream, cut into windows, whole words masked.

Documents are concatenated (``[SEP]`` between them) and cropped into ``seq_len`` windows. As in the
paper, 15% of the whitespace-delimited words of a window are masked, all bytes of each chosen word.
Sample ``i`` of the stream is a pure function of ``(seed, i)``, so a loader's position is one integer
and resuming, sharding or adding workers never changes what a step sees.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from torchperceiver.tokenizer import BYTE_OFFSET, MASK, SEP

IGNORE_INDEX = -100
WHITESPACE_IDS = np.array([b + BYTE_OFFSET for b in b" \t\n\r\x0b\x0c"])


def concatenate(docs: list[bytes]) -> np.ndarray:
    """Byte ids of all documents, one ``[SEP]`` between two documents."""
    return _join([np.frombuffer(doc, dtype=np.uint8).astype(np.int16) + BYTE_OFFSET for doc in docs])


def hold_out(ids: np.ndarray, eval_fraction: float, block: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, eval)``: every k-th block of ``block`` ids is held out (k ≈ 1 / eval_fraction; at least
    the last block), so the held-out text is spread over the corpus, not its unrepresentative tail.
    Blocks are joined by ``[SEP]``, like documents."""
    blocks = [ids[i : i + block] for i in range(0, len(ids), block)]
    if eval_fraction == 0 or len(blocks) < 2:
        return ids, ids[:0]
    k = min(len(blocks), max(2, round(1 / eval_fraction)))
    held = [b for i, b in enumerate(blocks) if i % k == k - 1]
    kept = [b for i, b in enumerate(blocks) if i % k != k - 1]
    return _join(kept), _join(held)


def _join(pieces: list[np.ndarray]) -> np.ndarray:
    sep = np.array([SEP], dtype=np.int16)
    return np.concatenate([part for piece in pieces for part in (sep, piece)][1:])


def word_ids(ids: np.ndarray) -> np.ndarray:
    """Index of the word each position belongs to, -1 for whitespace and special tokens."""
    in_word = (ids >= BYTE_OFFSET) & ~np.isin(ids, WHITESPACE_IDS)
    starts = in_word & ~np.concatenate([[False], in_word[:-1]])
    return np.where(in_word, np.cumsum(starts) - 1, -1)


def mask_words(ids: np.ndarray, mask_prob: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mask ``round(mask_prob · words)`` (at least one) whole words → ``(input_ids, labels)``.

    ``labels`` holds the original id at masked positions and ``IGNORE_INDEX`` elsewhere.
    """
    words = word_ids(ids)
    num_words = int(words.max()) + 1 if words.size else 0
    chosen = np.zeros(num_words + 1, dtype=bool)  # the extra slot is index -1: not a word
    if num_words:
        count = max(1, round(mask_prob * num_words))
        chosen[rng.choice(num_words, size=count, replace=False)] = True
    masked = chosen[words]
    inputs = np.where(masked, MASK, ids)
    labels = np.where(masked, ids, IGNORE_INDEX)
    return inputs, labels


class MaskedWindows(Dataset):
    """Sample ``i`` of an endless stream of masked windows (epoch ``i // len(self)``).

    With ``shuffle`` every epoch shifts the window grid by a random offset and visits the windows
    in a random order; without it (evaluation) the windows are the fixed grid from offset 0.
    """

    def __init__(self, ids: np.ndarray, seq_len: int, mask_prob: float, seed: int, shuffle: bool) -> None:
        spare = seq_len - 1 if shuffle else 0
        self.num_windows = (len(ids) - spare) // seq_len
        if self.num_windows < 1:
            need = seq_len + spare
            raise ValueError(
                f"data.corpus: expected at least {need} bytes in this split for data.seq_len={seq_len}, got "
                f"{len(ids)}; use a longer corpus or a smaller data.seq_len"
            )
        self.ids, self.seq_len, self.mask_prob, self.seed, self.shuffle = ids, seq_len, mask_prob, seed, shuffle
        self._epoch, self._order, self._offset = -1, np.arange(self.num_windows), 0

    def __len__(self) -> int:
        return self.num_windows

    def _start_epoch(self, epoch: int) -> None:
        if epoch != self._epoch and self.shuffle:
            rng = np.random.default_rng([self.seed, 0, epoch])
            self._offset = int(rng.integers(self.seq_len))
            self._order = rng.permutation(self.num_windows)
        self._epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        epoch, slot = divmod(int(index), self.num_windows)
        self._start_epoch(epoch)
        start = self._offset + int(self._order[slot]) * self.seq_len
        window = self.ids[start : start + self.seq_len]
        inputs, labels = mask_words(window, self.mask_prob, np.random.default_rng([self.seed, 1, index]))
        return {
            "input_ids": torch.from_numpy(inputs.astype(np.int64)),
            "labels": torch.from_numpy(labels.astype(np.int64)),
        }
