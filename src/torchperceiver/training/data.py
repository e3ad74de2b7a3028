"""Turning finite datasets into the endless, seeded streams the trainer reads."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset


class EndlessDataset(Dataset):
    """Item ``i`` of an endless stream over ``dataset``: epoch ``i // n`` in its own seeded order.

    A pure function of ``(seed, i)``, so a resumed run (which restarts at index ``step × batch``) sees exactly
    the items an uninterrupted one would, and every epoch is a fresh permutation.
    """

    def __init__(self, dataset: Dataset, seed: int = 0, shuffle: bool = True) -> None:
        size = len(dataset)  # type: ignore[arg-type]
        if size == 0:
            raise ValueError("dataset: expected at least one item, got an empty dataset")
        self.dataset, self.size, self.seed, self.shuffle = dataset, size, seed, shuffle
        self._epoch, self._order = -1, np.arange(size)

    def __len__(self) -> int:
        """The length of one epoch (samplers index past it freely)."""
        return self.size

    def _order_of(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = rng.permutation(self.size) if self.shuffle else np.arange(self.size)
            self._epoch = epoch
        return self._order

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            raise IndexError(f"index: expected >= 0, got {index}")
        epoch, position = divmod(index, self.size)
        return self.dataset[int(self._order_of(epoch)[position])]
