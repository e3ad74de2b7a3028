"""CLI sub-commands contributed by the model families: ``torchperceiver <group> <name> …``.

A family registers a command class where it is defined::

    @register_command("predict", "flow", help="optical flow between two images")
    class PredictFlow:
        @staticmethod
        def add_arguments(parser: argparse.ArgumentParser) -> None: ...
        @staticmethod
        def run(args: argparse.Namespace) -> int: ...

``predict classify`` is shared by every classifier: it loads the model and hands the raw inputs to the
function registered for the model's input kind (``@register_classify_inputs("image")``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from torchperceiver.core.io import load_model
from torchperceiver.core.model import PerceiverIO
from torchperceiver.registry import Registry

GROUPS = ("predict", "plot", "convert", "tune")


class Command(Protocol):
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...

    @staticmethod
    def run(args: argparse.Namespace) -> int: ...


@dataclass(frozen=True)
class Registered:
    command: type[Command]
    help: str


COMMANDS: dict[str, Registry[Registered]] = {group: Registry(f"torchperceiver {group}") for group in GROUPS}


def register_command(group: str, name: str, help: str) -> Callable[[type[Command]], type[Command]]:
    """Class decorator: ``torchperceiver <group> <name>`` runs ``cls.run(args)``."""
    if group not in COMMANDS:
        raise ValueError(f"group: expected one of {list(GROUPS)}, got {group!r}")

    def add(cls: type[Command]) -> type[Command]:
        COMMANDS[group].add(name, Registered(cls, help))
        return cls

    return add


ClassifyInputs = Callable[[PerceiverIO, list[str]], tuple[Any, ...]]
CLASSIFY_INPUTS: Registry[ClassifyInputs] = Registry("classifier input kind")


def register_classify_inputs(kind: str) -> Callable[[ClassifyInputs], ClassifyInputs]:
    """Decorator: ``fn(model, inputs)`` turns ``predict classify``'s raw inputs into ``model(*args)`` arguments
    for models whose input adapter has this ``kind``."""
    return CLASSIFY_INPUTS.register(kind)


def class_names(model: PerceiverIO, num_classes: int, task: str | None = None) -> list[str]:
    """Class names saved with the model; ``task``: one task of a multi-task model (``labels`` per task)."""
    cfg = model.config.output_adapter
    labels = tuple(getattr(cfg, "labels", ()) or ())
    if task is not None:
        labels = tuple(dict(zip(getattr(cfg, "tasks", ()), labels, strict=False)).get(task, ()))
    return list(labels) if len(labels) == num_classes else [f"class {i}" for i in range(num_classes)]


def top_classes(probs: torch.Tensor, names: list[str], k: int) -> str:
    """``'name 0.91, name 0.05, …'`` for one row of probabilities."""
    values, indices = probs.topk(min(k, probs.numel()))
    return ", ".join(f"{names[i]} {v:.3f}" for v, i in zip(values.tolist(), indices.tolist(), strict=True))


@register_command("predict", "classify", help="classify texts or images with a trained classifier")
class PredictClassify:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("inputs", nargs="+", help="texts, or image files, as the model reads")
        parser.add_argument("--checkpoint", type=Path, required=True, help="run, checkpoint or model directory")
        parser.add_argument("--top-k", type=int, default=3, help="classes to print per input (default: 3)")
        parser.add_argument("--device", default="cpu")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        if args.top_k < 1:
            raise ValueError(f"--top-k: expected a positive int, got {args.top_k}")
        model = load_model(args.checkpoint, args.device).eval()
        kind = model.config.input_adapter.kind
        if kind not in CLASSIFY_INPUTS:
            raise ValueError(f"--checkpoint: expected a classifier of {CLASSIFY_INPUTS.names()} inputs, got {kind!r}")
        with torch.no_grad():
            logits = model(*CLASSIFY_INPUTS.get(kind)(model, list(args.inputs)))
        outputs = logits if isinstance(logits, dict) else {None: logits}  # a multi-task model: {task: logits}
        for out in outputs.values():
            if not isinstance(out, torch.Tensor) or out.dim() != 2:
                raise ValueError(f"--checkpoint: expected a model that outputs class logits, got {type(out).__name__}")
        for i, text in enumerate(args.inputs):
            for task, out in outputs.items():
                prefix = f"{text}: " + (f"{task}: " if task is not None else "")
                if out.shape[1] == 1:  # a regression (e.g. STS-B)
                    print(f"{prefix}{float(out[i, 0]):.3f}")
                else:
                    names = class_names(model, out.shape[1], task)
                    print(f"{prefix}{top_classes(out[i].float().softmax(-1).cpu(), names, args.top_k)}")
        return 0
