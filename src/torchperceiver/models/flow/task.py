"""Optical-flow training on synthetic AutoFlow-style pairs (paper §4.2), evaluated like inference.

Data items are sample *indices*; ``loss`` renders the pairs on the model's device (``AutoFlowGenerator``),
augments them (scale, crop to the model's training size, flips) and returns the end-point error summed over
pixels. The paper reports EPE and does not spell its training loss out; we train on the EPE itself, over
every pixel (the generator's flow is exact under occlusion too) or only visible ones (``loss_mask``).

Evaluation runs the same tiled prediction as ``predict flow`` (``predict_pair``) on held-out pairs rendered
larger than a tile (``eval_size``), on the Middlebury Motorcycle stereo pair shrunk by ``motorcycle_factor``
and, if ``benchmark`` names one, on a benchmark the user has on disk; beside every metric it logs the
zero-flow baseline's (``zero_*``), so a number is never read without its floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.flow import datasets
from torchperceiver.models.flow.augment import AugmentConfig, augment
from torchperceiver.models.flow.inference import predict_pair
from torchperceiver.models.flow.metrics import FLOW_METRICS, averages, end_point_error, flow_metrics
from torchperceiver.models.flow.synthetic import AutoFlowConfig, AutoFlowGenerator
from torchperceiver.presets import ModelSection
from torchperceiver.training.task import Batch, TaskOutput, register_task

EVAL_SEED_OFFSET = 7_919  # held-out pairs come from another stream than any training seed near it
AUGMENT_SEED_OFFSET = 104_729
BENCHMARKS = {
    "sintel-clean": lambda root: datasets.sintel(root, "clean"),
    "sintel-final": lambda root: datasets.sintel(root, "final"),
    "kitti2015": datasets.kitti2015,
    "chairs": lambda root: datasets.flying_chairs(root, "validation"),
    "things": lambda root: datasets.flying_things(root, "clean", "TEST"),
    "middlebury": datasets.middlebury,
}


@dataclass
class FlowDataConfig:
    """``render_scale``: the generator's canvas relative to the training crop (room for scale and crop).

    ``synthetic.size`` is ignored: training pairs render at ``render_scale`` × the model's ``train_size``,
    held-out ones at ``eval_size`` (default 1.5 × ``train_size``, so evaluation tiles with overlap).
    """

    synthetic: AutoFlowConfig = field(default_factory=AutoFlowConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    render_scale: float = 1.3
    loss_mask: Literal["all", "visible"] = "all"
    eval_pairs: int = 32
    eval_size: tuple[int, int] | None = None
    motorcycle_factor: float | None = 0.125
    benchmark: str | None = None
    benchmark_root: str | None = None
    benchmark_factor: float = 1.0
    min_overlap: int = 20
    epoch_size: int = 1_000_000

    def __post_init__(self) -> None:
        if self.render_scale < 1:
            raise ValueError(f"data.render_scale: expected >= 1, got {self.render_scale}")
        if self.eval_pairs < 0:
            raise ValueError(f"data.eval_pairs: expected >= 0, got {self.eval_pairs}")
        if self.benchmark is not None and (self.benchmark not in BENCHMARKS or self.benchmark_root is None):
            raise ValueError(
                f"data.benchmark: expected one of {sorted(BENCHMARKS)} with data.benchmark_root set, "
                f"got {self.benchmark!r} (root {self.benchmark_root!r})"
            )


class Indices(Dataset):
    """Item ``i`` is ``{"index": i}``: the pair itself is rendered on the training device in ``loss``."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index < 0:
            raise IndexError(f"index: expected >= 0, got {index}")
        return {"index": torch.tensor(index)}


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return (math.ceil(size[0] * scale), math.ceil(size[1] * scale))


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@register_task
class FlowTask:
    name: ClassVar[str] = "flow"
    default_preset: ClassVar[str] = "optical-flow"
    sections: ClassVar[dict[str, type]] = {"data": FlowDataConfig}

    def __init__(self, model: ModelSection, data: FlowDataConfig, seed: int = 0) -> None:
        size = model.arguments().get("train_size")
        if size is None:
            raise ValueError(f"model.preset: expected an optical-flow preset with train_size, got {model.preset!r}")
        self.model_cfg, self.data, self.seed = model, data, seed
        self.crop = (int(size[0]), int(size[1]))
        render = _scaled(self.crop, data.render_scale)
        eval_size = (data.eval_size[0], data.eval_size[1]) if data.eval_size is not None else _scaled(self.crop, 1.5)
        self.train_gen = AutoFlowGenerator(_with_size(data.synthetic, render), seed)
        self.eval_gen = AutoFlowGenerator(_with_size(data.synthetic, eval_size), seed + EVAL_SEED_OFFSET)
        self.fixed: list[tuple[str, dict[str, torch.Tensor]]] = []
        if data.motorcycle_factor is not None:
            self.fixed.append(("moto", datasets.motorcycle(data.motorcycle_factor)))
        self.benchmark = None
        if data.benchmark is not None:
            self.benchmark = BENCHMARKS[data.benchmark](data.benchmark_root)

    def build_model(self) -> PerceiverIO:
        return self.model_cfg.build()

    def model_config(self, model: PerceiverIO) -> dict[str, Any]:
        return model.config.to_dict()

    def train_dataset(self) -> Dataset:
        return Indices(self.data.epoch_size)

    def eval_dataset(self) -> Dataset | None:
        size = self.data.eval_pairs + len(self.fixed) + (len(self.benchmark) if self.benchmark is not None else 0)
        return Indices(size) if size else None

    # -- training ---------------------------------------------------------------------------------

    def training_pairs(self, indices: list[int], device: torch.device) -> dict[str, torch.Tensor]:
        """Rendered, augmented pairs at the training crop (frames in [0, 1])."""
        self.train_gen.to(device)
        rendered = self.train_gen(indices)
        return augment(rendered, self.crop, self.data.augment, self.seed + AUGMENT_SEED_OFFSET, indices)

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        indices = [int(i) for i in batch["index"]]
        if not model.training:
            return self._evaluate(model, indices)
        pairs = self.training_pairs(indices, _device(model))
        frames = torch.stack([pairs["frame1"], pairs["frame2"]], 1) * 2 - 1
        flow = model(frames).float()
        epe = end_point_error(flow, pairs["flow"])
        mask = pairs["visible"] if self.data.loss_mask == "visible" else torch.ones_like(pairs["visible"])
        count = mask.sum().float()
        zero = torch.linalg.vector_norm(pairs["flow"], dim=1)
        metrics = {"epe": ((epe * mask).sum().detach(), count), "zero_epe": ((zero * mask).sum(), count)}
        return TaskOutput((epe * mask).sum(), count, metrics)

    # -- evaluation -------------------------------------------------------------------------------

    def eval_item(self, index: int) -> tuple[str, dict[str, torch.Tensor]]:
        """Held-out item ``index``: (metric prefix, pair) for the fixed and benchmark pairs."""
        index -= self.data.eval_pairs
        if index < len(self.fixed):
            return self.fixed[index]
        assert self.benchmark is not None
        item = datasets.downscale(self.benchmark[index - len(self.fixed)], self.data.benchmark_factor)
        return str(self.data.benchmark), item

    def metric_names(self) -> list[str]:
        """Every evaluation metric, in one fixed order (each batch reports all, zero counts where unused)."""
        prefixes = [""] if self.data.eval_pairs else []
        prefixes += [prefix + "_" for prefix, _ in self.fixed]
        prefixes += [f"{self.data.benchmark}_"] if self.benchmark is not None else []
        names = [*FLOW_METRICS]
        return [p + z + n for p in prefixes for z in ("", "zero_") for n in names]

    def _evaluate(self, model: nn.Module, indices: list[int]) -> TaskOutput:
        device = _device(model)
        zero = torch.zeros((), device=device)
        metrics = {name: (zero, zero) for name in self.metric_names()}
        synthetic = [i for i in indices if i < self.data.eval_pairs]
        groups: list[tuple[str, dict[str, torch.Tensor]]] = []
        if synthetic:
            pairs = self.eval_gen.to(device)(synthetic)
            pairs["valid"] = torch.ones_like(pairs.pop("visible"))
            groups.append(("", pairs))
        for i in indices:
            if i >= self.data.eval_pairs:
                prefix, item = self.eval_item(i)
                groups.append((prefix + "_", {k: v[None].to(device) for k, v in item.items()}))
        total, count = zero, zero
        for prefix, pairs in groups:
            flow = predict_pair(model, pairs["frame1"], pairs["frame2"], self.data.min_overlap)
            ours = flow_metrics(flow, pairs["flow"], pairs["valid"])
            baseline = flow_metrics(torch.zeros_like(flow), pairs["flow"], pairs["valid"])
            for name in FLOW_METRICS:
                _add(metrics, prefix + name, ours[name])
                _add(metrics, prefix + "zero_" + name, baseline[name])
            total, count = total + ours["epe"][0], count + ours["epe"][1]
        return TaskOutput(total, count, metrics)

    def demo(self, model: nn.Module) -> str | None:
        """The Motorcycle pair's EPE beside zero flow's (when the task evaluates it)."""
        if not self.fixed:
            return None
        _, item = self.fixed[0]
        device = _device(model)
        was_training = model.training
        model.eval()
        flow = predict_pair(model, item["frame1"][None].to(device), item["frame2"][None].to(device))
        model.train(was_training)
        ours = averages(flow_metrics(flow.cpu(), item["flow"][None], item["valid"][None]))
        zero = averages(flow_metrics(torch.zeros_like(flow.cpu()), item["flow"][None], item["valid"][None]))
        size = tuple(item["flow"].shape[-2:])
        return (
            f"Middlebury Motorcycle {size[1]}×{size[0]}: EPE {ours['epe']:.3f} px "
            f"(zero flow {zero['epe']:.3f}), 1-px accuracy {ours['acc_1px']:.3f} (zero flow {zero['acc_1px']:.3f})"
        )

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """Pictures of the trained model on held-out pairs and the Motorcycle pair (``flow-*.png``)."""
        from torchperceiver.models.flow.gallery import prediction_gallery

        was_training = model.training
        model.eval()
        try:
            synthetic = self.eval_gen.to(_device(model))(list(range(min(4, max(self.data.eval_pairs, 1)))))
            pairs = [("synthetic", {k: v[i] for k, v in synthetic.items()}) for i in range(synthetic["flow"].shape[0])]
            pairs += self.fixed
            return prediction_gallery(model, pairs, Path(run_dir) / "flow-predictions.png")
        finally:
            model.train(was_training)


def _with_size(cfg: AutoFlowConfig, size: tuple[int, int]) -> AutoFlowConfig:
    values = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    return AutoFlowConfig(**{**values, "size": tuple(size)})


def _add(
    metrics: dict[str, tuple[torch.Tensor, torch.Tensor]], name: str, value: tuple[torch.Tensor, torch.Tensor]
) -> None:
    s, c = metrics[name]
    metrics[name] = (s + value[0], c + value[1])
