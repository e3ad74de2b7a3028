"""Where a text-classification task's examples come from: a GLUE task, a fortunes task or table files.

A recipe describes each task's data with one ``TextSource``; ``load_source`` reads it into a ``LoadedSource``
(class names, the splits, the metrics to report), checking every row on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from torchperceiver.models.language.fortunes import FORTUNES_ROOT, MIN_TOPIC_QUOTES, fortune_splits
from torchperceiver.models.language.glue import glue_layout, read_glue
from torchperceiver.models.language.hf_datasets import read_hf
from torchperceiver.models.language.metrics import check_metrics
from torchperceiver.models.language.tables import Columns, LabelledText, label_names, read_labelled

SourceFormat = Literal["table", "glue", "fortunes", "hf"]


@dataclass
class TextSource:
    """One task's data.

    * ``format: glue``: ``task`` is a GLUE task (``cola``, ``sst2``, ``mrpc``, ``stsb``, ``qqp``, ``mnli``,
      ``mnli-mm``, ``qnli``, ``rte``) and ``path`` its folder (or the GLUE root holding it); train on
      ``train.tsv``, evaluate on ``dev.tsv``. Columns, classes and metrics are GLUE's.
    * ``format: fortunes``: ``task`` is ``language`` or ``topic``; ``path`` the fortunes root (default
      ``/usr/share/games/fortunes``); the fixed train/eval/test split of ``fortunes.py``.
    * ``format: table``: CSV / TSV / JSONL files ``train``, ``eval`` (optional) and ``test`` (optional) with
      columns ``text`` (+ ``text_pair``) and ``label``; ``labels`` lists the classes (default: the sorted labels
      of the train file); ``regression: true`` reads the label as a number. ``task`` names the task.
    * ``format: hf``: Hugging Face ``datasets`` (extra ``hf``): ``path`` a hub name or dataset directory and
      ``subset`` its configuration, ``train``/``eval``/``test`` split names; or, without ``path``, local
      parquet / arrow / JSON / CSV files (``hf_datasets.py``). Columns and labels as for ``table``.

    ``metrics``: what to report (default: GLUE's for the task; ``accuracy`` for classes, ``pearson`` and
    ``spearman`` for regression). ``max_train_examples`` keeps N training examples drawn at random (a fixed draw).
    """

    format: SourceFormat = "table"
    task: str = ""
    path: str = ""
    train: str = ""
    eval: str = ""
    test: str = ""
    text: str = "text"
    text_pair: str | None = None
    label: str = "label"
    labels: list[str] | None = None
    regression: bool = False
    metrics: list[str] | None = None
    max_train_examples: int | None = None
    min_topic_quotes: int = MIN_TOPIC_QUOTES
    subset: str | None = None


@dataclass
class LoadedSource:
    name: str
    classes: tuple[str, ...] | None  # None: regression
    splits: dict[str, list[LabelledText]]
    metrics: tuple[str, ...]
    majority: int | None = field(default=None)  # the most frequent training class

    @property
    def num_outputs(self) -> int:
        return 1 if self.classes is None else len(self.classes)


def load_source(source: TextSource, where: str = "data") -> LoadedSource:
    """Read every split of ``source``; errors name the file and line (or the recipe field)."""
    if source.format == "glue":
        layout = glue_layout(source.task)
        root = source.path or "."
        splits = {"train": read_glue(root, source.task, "train"), "eval": read_glue(root, source.task, "eval")}
        classes, default_metrics = layout.classes, layout.metrics
    elif source.format == "fortunes":
        classes, splits = fortune_splits(source.task, source.path or FORTUNES_ROOT, source.min_topic_quotes)
        default_metrics = ("accuracy",)
    elif source.format in ("table", "hf"):
        classes, splits = _read_tables(source, where) if source.format == "table" else read_hf(source, where)
        default_metrics = ("accuracy",) if classes is not None else ("pearson", "spearman")
    else:
        raise ValueError(f"{where}.format: expected one of {list(get_args(SourceFormat))}, got {source.format!r}")
    metrics = tuple(source.metrics) if source.metrics else tuple(default_metrics)
    check_metrics(metrics, None if classes is None else len(classes), f"{where}.metrics")
    if source.max_train_examples is not None:
        if source.max_train_examples < 1:
            raise ValueError(f"{where}.max_train_examples: expected a positive int, got {source.max_train_examples}")
        keep = np.random.default_rng(0).permutation(len(splits["train"]))[: source.max_train_examples]
        splits["train"] = [splits["train"][i] for i in sorted(keep)]
    name = source.task or source.format
    return LoadedSource(
        name, None if classes is None else tuple(classes), splits, metrics, _majority(splits["train"], classes)
    )


def _read_tables(source: TextSource, where: str) -> tuple[tuple[str, ...] | None, dict[str, list[LabelledText]]]:
    if not source.train:
        raise ValueError(f"{where}.train: expected a CSV, TSV or JSONL file, got nothing")
    columns = Columns(source.text, source.label, source.text_pair)
    train = Path(source.train).expanduser()
    classes: tuple[str, ...] | None = None
    if not source.regression:
        classes = tuple(source.labels) if source.labels else tuple(label_names(train, source.label))
        if len(classes) < 2:
            raise ValueError(f"{where}.labels: expected at least 2 classes, got {list(classes)}")
    splits = {"train": read_labelled(train, columns, classes)}
    for split in ("eval", "test"):
        path = getattr(source, split)
        if path:
            splits[split] = read_labelled(Path(path).expanduser(), columns, classes)
    return classes, splits


def _majority(examples: list[LabelledText], classes: tuple[str, ...] | list[str] | None) -> int | None:
    if classes is None or not examples:
        return None
    counts = [0] * len(classes)
    for example in examples:
        counts[int(example.label)] += 1
    return max(range(len(counts)), key=counts.__getitem__)
