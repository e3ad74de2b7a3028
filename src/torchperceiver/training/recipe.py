"""Recipes: readable YAML files that set every field of a training run, checked against dataclasses.

A recipe names a task and fills its sections: ``model`` (a preset, ``model.preset``, by default the task's,
and any of its arguments), the task's own (e.g. ``data``), ``optim`` (``OptimConfig``) and ``train``
(``TrainConfig``). Built-in recipes live in each family's ``recipes/`` folder. jsonargparse validates the YAML against
those dataclasses (types, ``Literal`` choices, unknown keys); ``key=value`` overrides (YAML values)
are applied before validation. The resolved recipe is saved in the run directory, so ``--resume``
needs nothing else.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from torchperceiver.core.validate import check_finite_floats
from torchperceiver.presets import model_section
from torchperceiver.training.optim import OptimConfig
from torchperceiver.training.task import TASKS, Task
from torchperceiver.training.trainer import TrainConfig

ENGINE_SECTIONS: dict[str, type] = {"optim": OptimConfig, "train": TrainConfig}


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file or key."""


@dataclass
class Recipe:
    name: str
    task: str
    sections: dict[str, Any]
    text: str

    @property
    def optim(self) -> OptimConfig:
        return self.sections["optim"]

    @property
    def train(self) -> TrainConfig:
        return self.sections["train"]

    def build_task(self) -> Task:
        task_cls = TASKS.get(self.task)
        names = ["model", *task_cls.sections]
        return task_cls(seed=self.train.seed, **{name: self.sections[name] for name in names})  # type: ignore[call-arg]


def builtin() -> dict[str, Path]:
    """Every family's recipes by name (``models/<family>/recipes/<name>.yaml``)."""
    import torchperceiver.models

    out: dict[str, Path] = {}
    paths = (path for root in torchperceiver.models.__path__ for path in Path(root).glob("*/recipes/*.yaml"))
    for path in sorted(paths):
        if path.stem in out:
            raise RecipeError(f"recipe {path.stem!r}: defined twice ({out[path.stem]} and {path})")
        out[path.stem] = path
    return out


def available() -> dict[str, str]:
    """Built-in recipe names and their one-line descriptions (the file's first comment)."""
    out = {}
    for name, path in builtin().items():
        first = path.read_text().splitlines()[0] if path.stat().st_size else ""
        out[name] = first.lstrip("# ").strip() if first.startswith("#") else ""
    return out


def find(recipe: str) -> Path:
    """A built-in recipe by name, or a YAML file by path."""
    recipes = builtin()
    if recipe in recipes:
        return recipes[recipe]
    path = Path(recipe).expanduser()
    if path.is_file():
        return path
    raise RecipeError(f"recipe: expected one of {sorted(available())} or a YAML file, got {recipe!r}")


def load(recipe: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read, override and validate a recipe. ``overrides``: ``"train.steps=100"`` etc.

    A mistake in the file is blamed on the file, one in ``overrides`` on ``--set``.
    """
    path = find(str(recipe))
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"recipe {path}: not valid YAML ({_one_line(str(err))})") from err
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {path}: expected a mapping of sections, got {type(raw).__name__}")
    if overrides:
        _validate(copy.deepcopy(raw), f"recipe {path}")
    for override in overrides:
        _apply(raw, override)
    sections, text = _validate(raw, "--set" if overrides else f"recipe {path}")
    return Recipe(path.stem, raw["task"], sections, text)


def _validate(raw: dict, blame: str) -> tuple[dict[str, Any], str]:
    """``(sections, resolved YAML)`` of a raw recipe; errors start with ``blame``."""
    task = raw.get("task")
    if not isinstance(task, str) or task not in TASKS:
        raise RecipeError(f"{blame}: task: expected one of {TASKS.names()}, got {task!r}")
    for section, value in raw.items():
        if section != "task" and not isinstance(value, dict):
            raise RecipeError(f"{blame}: {section}: expected a mapping of fields, got {value!r}")
    task_cls = TASKS.get(task)
    try:
        model = model_section(raw.get("model", {}).get("preset", task_cls.default_preset))
    except ValueError as err:
        raise RecipeError(f"{blame}: model.{err}") from err
    parser = _parser({"model": model, **task_cls.sections, **ENGINE_SECTIONS})
    try:
        namespace = parser.parse_object(raw)
        sections = vars(parser.instantiate(namespace))
        for name, value in sections.items():
            if dataclasses.is_dataclass(value):
                check_finite_floats(value, name)
    except (argparse.ArgumentError, ValueError, TypeError) as err:  # jsonargparse raises argparse's error
        raise RecipeError(f"{blame}: {_clean(str(err))}") from err
    text = parser.dump(namespace, skip_unset=False)
    return {k: v for k, v in sections.items() if k != "task"}, text


def _parser(sections: dict[str, type]) -> Any:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False, prog="recipe")
    parser.add_argument("--task", type=str, required=True)
    for name, cls in sections.items():
        parser.add_class_arguments(cls, name)
    return parser


def _apply(raw: dict, override: str) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"--set: expected key=value (e.g. train.steps=100), got {override!r}")
    *parents, leaf = key.strip().split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"--set {key}: {part} is not a section")
        node = child
    try:
        node[leaf] = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise RecipeError(f"--set {key}: expected a YAML value, got {value!r}") from err


def _clean(message: str) -> str:
    """jsonargparse's messages in one line, without ``<class '...'>`` noise."""
    return _one_line(re.sub(r"<class '([\w.]+)'>", r"\1", message))


def _one_line(text: str) -> str:
    return " ".join(text.split())
