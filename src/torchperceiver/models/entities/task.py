"""The ``entities`` task: a relational answer per entity in generated scenes, plus the scene's majority type.

Loss: cross-entropy of each real entity's target (``scenes.py``: the nearest enemy's type) summed over
entities, plus
``set_loss_weight`` × the cross-entropy of the set-level class per scene; the trainer divides by the number
of entities. Metrics: per-entity ``accuracy``, ``set_accuracy`` and, on the held-out scenes,
``majority_accuracy`` (always answering the most common training target: about what a model that ignores
the other entities can reach).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.models.entities.adapters import EntityInputConfig
from torchperceiver.models.entities.baselines import BaselineConfig, build_baseline
from torchperceiver.models.entities.scenes import FEATURES, IGNORE_INDEX, SceneConfig, SceneDataset, make_scene
from torchperceiver.presets import ModelSection
from torchperceiver.training.task import Batch, TaskOutput, register_task

TRAIN_SPLIT, EVAL_SPLIT = 0, 1


@dataclass
class EntitiesDataConfig(SceneConfig):
    """The scene distribution (``SceneConfig``), the held-out set size and the weight of the set-level loss."""

    eval_scenes: int = 512
    set_loss_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eval_scenes < 0:
            raise ValueError(f"data.eval_scenes: expected >= 0, got {self.eval_scenes!r}")
        if self.set_loss_weight < 0:
            raise ValueError(f"data.set_loss_weight: expected >= 0, got {self.set_loss_weight!r}")


def check_model_fits(args: dict[str, Any], data: SceneConfig) -> None:
    """The preset's entity slots, fields and output sizes must match the scenes."""
    expected = {
        "num_features": len(FEATURES),
        "categories": data.categories,
        "num_entity_outputs": data.num_classes,
        "num_set_outputs": data.num_types,
    }
    for name, value in expected.items():
        if name not in args:
            raise ValueError(f"model.preset: expected an entity preset with {name}, got arguments {sorted(args)}")
        actual = tuple(args[name]) if isinstance(value, tuple) else args[name]
        if actual != value:
            raise ValueError(f"model.{name}: expected {value!r} for these scenes, got {args[name]!r}")
    if args.get("max_entities", 0) < data.max_entities:
        raise ValueError(
            f"model.max_entities: expected >= data.max_entities={data.max_entities}, got {args.get('max_entities')}"
        )


@register_task
class EntitiesTask:
    name: ClassVar[str] = "entities"
    default_preset: ClassVar[str] = "entity-scenes"
    sections: ClassVar[dict[str, type]] = {"data": EntitiesDataConfig, "baseline": BaselineConfig}

    def __init__(
        self, model: ModelSection, data: EntitiesDataConfig, baseline: BaselineConfig | None = None, seed: int = 0
    ) -> None:
        args = model.arguments()
        check_model_fits(args, data)
        self.model_cfg, self.data_cfg, self.seed = model, data, seed
        self.baseline = baseline or BaselineConfig()
        self.majority_class = int(np.bincount(self._train_labels(256), minlength=data.num_classes).argmax())

    def _train_labels(self, scenes: int) -> np.ndarray:
        labels = np.concatenate([make_scene(self.data_cfg, self.seed, i, TRAIN_SPLIT)["labels"] for i in range(scenes)])
        return labels[labels != IGNORE_INDEX]

    def build_model(self) -> nn.Module:
        if self.baseline.kind == "none":
            return self.model_cfg.build()
        args = self.model_cfg.arguments()
        inputs = EntityInputConfig(
            num_features=args["num_features"],
            categories=tuple(args["categories"]),
            max_entities=args["max_entities"],
            embed_dim=args["embed_dim"],
            fourier_features=tuple(args["fourier_features"]),
            num_bands=args["num_bands"],
        )
        return build_baseline(self.baseline, inputs, args["num_entity_outputs"], args["num_set_outputs"])

    def model_config(self, model: nn.Module) -> dict[str, Any]:
        """A Perceiver IO's ``config.json``; a baseline's settings (it is not loadable with ``load_model``)."""
        config: Any = model.config
        return config.to_dict() if hasattr(config, "to_dict") else dict(config)

    def train_dataset(self) -> SceneDataset:
        return SceneDataset(self.data_cfg, self.seed, TRAIN_SPLIT)

    def eval_dataset(self) -> SceneDataset | None:
        if not self.data_cfg.eval_scenes:
            return None
        return SceneDataset(self.data_cfg, self.seed, EVAL_SPLIT, self.data_cfg.eval_scenes)

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        entities = {"features": batch["features"], "categories": batch["categories"]}
        out = model(entities, attention_mask=batch["mask"])
        labels, set_labels = batch["labels"], batch["set_label"]
        real = labels != IGNORE_INDEX
        count = real.sum()
        entity_loss = F.cross_entropy(
            out.entities.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
        )
        set_loss = F.cross_entropy(out.set.float(), set_labels, reduction="sum")
        scenes = torch.ones_like(count) * len(set_labels)
        metrics = {
            "accuracy": (((out.entities.argmax(-1) == labels) & real).sum(), count),
            "set_accuracy": ((out.set.argmax(-1) == set_labels).sum(), scenes),
        }
        if not model.training:
            metrics["majority_accuracy"] = (((labels == self.majority_class) & real).sum(), count)
        return TaskOutput(entity_loss + self.data_cfg.set_loss_weight * set_loss, count, metrics)

    @torch.no_grad()
    def demo(self, model: nn.Module) -> str:
        """One held-out scene: true and predicted targets of its first entities, and its majority type."""
        scene = SceneDataset(self.data_cfg, self.seed, EVAL_SPLIT)[0]
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            entities = {k: scene[k][None].to(device) for k in ("features", "categories")}
            out = model(entities, attention_mask=scene["mask"][None].to(device))
        finally:
            model.train(was_training)
        n = int(scene["mask"].sum())
        shown = min(n, 16)
        labels, predicted = scene["labels"], out.entities[0].argmax(-1).cpu()
        scored = labels != IGNORE_INDEX
        right, total = int(((predicted == labels) & scored).sum()), int(scored.sum())
        return "\n".join(
            [
                f"scene with {n} entities; target {self.data_cfg.target!r} of the first {shown}:",
                f"  true:      {' '.join(map(str, labels[:shown].tolist()))}",
                f"  predicted: {' '.join(map(str, predicted[:shown].tolist()))}   ({right}/{total} right)",
                f"  majority type: true {int(scene['set_label'])}, predicted {int(out.set[0].argmax())}",
            ]
        )
