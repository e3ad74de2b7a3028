"""Seeded 2-D scenes of typed entities whose per-entity answers depend on the other entities.

A scene is a variable number of entities (``min_entities`` … ``max_entities``, padded to ``max_entities``)
in the unit square. Each has float features (x, y, vx, vy, hit points) and categorical fields (type,
owner). The per-entity target is relational (``target``):

* ``nearest_enemy`` (default): the type of the nearest entity of the other owner(s): "what is closest to
  me on the other side". Types are drawn independently of everything else, so nothing in an entity's own
  features tells it the answer: a model that looks at one entity at a time (a per-entity MLP) stays at
  chance, ``1 / num_types``.
* ``neighbours``: how many other entities of its own type lie within ``radius`` (clipped at ``max_count``).

The set-level target is the most common type (ties: lowest id).

Every scene is a pure function of ``(seed, split, index)``: the same call always returns the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

#: Float features per entity, in order.
FEATURES = ("x", "y", "vx", "vy", "hit_points")
#: Categorical fields per entity, in order.
CATEGORIES = ("type", "owner")
#: Label of a padding slot (ignored by the loss, as in ``F.cross_entropy``).
IGNORE_INDEX = -100


@dataclass
class SceneConfig:
    """The scene distribution and the per-entity ``target`` (see the module docstring)."""

    target: Literal["nearest_enemy", "neighbours"] = "nearest_enemy"
    max_entities: int = 32
    min_entities: int = 8
    num_types: int = 4
    num_owners: int = 2
    radius: float = 0.2
    max_count: int = 5

    def __post_init__(self) -> None:
        if self.min_entities < 1:
            raise ValueError(f"data.min_entities: expected a positive int, got {self.min_entities!r}")
        if self.max_entities < self.min_entities:
            raise ValueError(
                f"data.max_entities: expected >= min_entities={self.min_entities}, got {self.max_entities!r}"
            )
        for name in ("num_types", "num_owners", "max_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name}: expected a positive int, got {getattr(self, name)!r}")
        if not 0 < self.radius < 2**0.5:
            raise ValueError(f"data.radius: expected a value in (0, sqrt(2)), got {self.radius!r}")
        if self.target not in ("nearest_enemy", "neighbours"):
            raise ValueError(f"data.target: expected 'nearest_enemy' or 'neighbours', got {self.target!r}")
        if self.target == "nearest_enemy" and self.num_owners < 2:
            raise ValueError(f"data.num_owners: expected >= 2 for target 'nearest_enemy', got {self.num_owners}")

    @property
    def num_classes(self) -> int:
        """Per-entity classes: a type (``nearest_enemy``), or 0, 1, …, ``max_count`` or more (``neighbours``)."""
        return self.num_types if self.target == "nearest_enemy" else self.max_count + 1

    @property
    def categories(self) -> tuple[int, ...]:
        """Number of values of each categorical field (``CATEGORIES``)."""
        return (self.num_types, self.num_owners)


def neighbour_counts(positions: np.ndarray, types: np.ndarray, radius: float) -> np.ndarray:
    """For each entity, how many *other* entities of its type lie within ``radius`` (Euclidean)."""
    distance = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    same = types[:, None] == types[None, :]
    near = (distance <= radius) & same
    np.fill_diagonal(near, False)
    return near.sum(axis=1)


def nearest_enemy_types(positions: np.ndarray, types: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """For each entity, the type of the nearest entity with another owner (``IGNORE_INDEX`` if there is none)."""
    distance = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    distance[owners[:, None] == owners[None, :]] = np.inf
    nearest = distance.argmin(axis=1)
    return np.where(np.isfinite(distance.min(axis=1)), types[nearest], IGNORE_INDEX)


def make_scene(cfg: SceneConfig, seed: int, index: int, split: int = 0) -> dict[str, np.ndarray]:
    """Scene ``index`` of stream ``(seed, split)``, padded to ``cfg.max_entities``.

    Returns ``features [M, 5]`` float32, ``categories [M, 2]`` int64, ``mask [M]`` bool (True = entity),
    ``labels [M]`` int64 (``IGNORE_INDEX`` at padding and where there is no answer) and ``set_label []`` int64.
    """
    if index < 0:
        raise ValueError(f"index: expected >= 0, got {index}")
    rng = np.random.default_rng([seed, split, index])
    n = int(rng.integers(cfg.min_entities, cfg.max_entities + 1))
    positions = rng.random((n, 2))
    velocity = rng.normal(0.0, 0.1, (n, 2))
    hit_points = rng.random((n, 1))
    types = rng.integers(0, cfg.num_types, n)
    owners = rng.integers(0, cfg.num_owners, n)
    if cfg.target == "nearest_enemy":
        targets = nearest_enemy_types(positions, types, owners)
    else:
        targets = np.minimum(neighbour_counts(positions, types, cfg.radius), cfg.max_count)

    m = cfg.max_entities
    features = np.zeros((m, len(FEATURES)), np.float32)
    features[:n] = np.concatenate([positions, velocity, hit_points], axis=1)
    categories = np.zeros((m, len(CATEGORIES)), np.int64)
    categories[:n] = np.stack([types, owners], axis=1)
    mask = np.zeros(m, bool)
    mask[:n] = True
    labels = np.full(m, IGNORE_INDEX, np.int64)
    labels[:n] = targets
    set_label = np.array(np.bincount(types, minlength=cfg.num_types).argmax(), dtype=np.int64)
    return {"features": features, "categories": categories, "mask": mask, "labels": labels, "set_label": set_label}


class SceneDataset(Dataset):
    """Scenes ``0 … size - 1`` of stream ``(seed, split)``; ``size=None`` is endless (any index >= 0)."""

    def __init__(self, cfg: SceneConfig, seed: int, split: int, size: int | None = None) -> None:
        self.cfg, self.seed, self.split, self.size = cfg, seed, split, size

    def __len__(self) -> int:
        """The finite size, or (endless) a nominal epoch that samplers index past freely."""
        return self.size if self.size is not None else 2**31 - 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.size is not None and index >= self.size:
            raise IndexError(f"index: expected < {self.size}, got {index}")
        scene = make_scene(self.cfg, self.seed, index, self.split)
        return {k: torch.as_tensor(v) for k, v in scene.items()}
