"""Labelled texts through Hugging Face ``datasets`` (the optional extra ``hf``): hub names and local files.

``format: hf`` in a recipe's data section. With ``path`` (a hub name such as ``nyu-mll/glue``, or a local
dataset directory) and ``subset`` (the hub's configuration, e.g. ``sst2``), ``train`` / ``eval`` / ``test``
name splits (defaults: ``train``, ``validation`` if the dataset has it, no test). Without ``path`` they are
local ``.parquet``, ``.arrow``, ``.json`` / ``.jsonl`` or ``.csv`` files. A ``ClassLabel`` column gives
the class names; other labels are read as in ``tables.py``. Rows are checked one by one, errors name the
dataset, the split and the row. A hub name downloads (into the ``datasets`` cache) when first read.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from torchperceiver.models.language.tables import Columns, LabelledText, class_index, labelled

if TYPE_CHECKING:
    from torchperceiver.models.language.sources import TextSource

BUILDERS = {".parquet": "parquet", ".arrow": "arrow", ".json": "json", ".jsonl": "json", ".csv": "csv"}
SPLITS = ("train", "eval", "test")


def require_datasets(where: str) -> ModuleType:
    """The ``datasets`` module, or a one-line error naming the extra that installs it."""
    try:
        import datasets
    except ImportError:
        raise ValueError(
            f"{where}: expected the `datasets` package for Hugging Face data, got none "
            "(pip install 'torchperceiver[hf]')"
        ) from None
    return datasets


def load_splits(source: TextSource, where: str) -> tuple[str, dict[str, Any]]:
    """``(name for errors, {"train": ..., "eval": ..., "test": ...})`` of HF ``Dataset`` objects (present ones)."""
    datasets = require_datasets(f"{where}.format")
    if source.path:
        loaded = datasets.load_dataset(source.path, source.subset)
        wanted = {"train": source.train or "train", "eval": source.eval or None, "test": source.test or None}
        if wanted["eval"] is None and "validation" in loaded:
            wanted["eval"] = "validation"
        for split, name in wanted.items():
            if name is not None and name not in loaded:
                raise ValueError(
                    f"{where}.{split}: expected a split of {source.path} in {sorted(loaded)}, got {name!r}"
                )
        label = source.path + (f" ({source.subset})" if source.subset else "")
        return label, {split: loaded[name] for split, name in wanted.items() if name is not None}
    files = {split: getattr(source, split) for split in SPLITS if getattr(source, split)}
    if "train" not in files:
        raise ValueError(f"{where}.train: expected a hub name in {where}.path or a local data file, got nothing")
    builders = {split: BUILDERS.get(Path(file).suffix.lower()) for split, file in files.items()}
    for split, builder in builders.items():
        if builder is None:
            raise ValueError(f"{where}.{split}: expected a {', '.join(BUILDERS)} file, got {files[split]!r}")
        if not Path(files[split]).expanduser().is_file():
            raise ValueError(f"{where}.{split}: expected a data file, got a missing path {files[split]!r}")
    if len(set(builders.values())) > 1:
        raise ValueError(f"{where}: expected files of one format, got {files}")
    data_files = {split: str(Path(file).expanduser()) for split, file in files.items()}
    loaded = datasets.load_dataset(builders["train"], data_files=data_files)
    return files["train"], {split: loaded[split] for split in files}


def read_hf(source: TextSource, where: str) -> tuple[tuple[str, ...] | None, dict[str, list[LabelledText]]]:
    """Class names (``None``: a regression) and every split's rows, checked as ``tables.read_labelled`` does."""
    name, splits = load_splits(source, where)
    columns = Columns(source.text, source.label, source.text_pair)
    train = splits["train"]
    wanted = (source.text, source.label, source.text_pair)
    missing = [c for c in wanted if c is not None and c not in train.column_names]
    if missing:
        raise ValueError(f"{where}: expected columns {missing} in {name} (train), got {train.column_names}")
    feature = train.features[source.label]
    names: list[str] | None = list(feature.names) if hasattr(feature, "int2str") else None
    classes: tuple[str, ...] | None = None
    if not source.regression:
        classes = tuple(source.labels or names or sorted({_text(v) for v in train[source.label]}))
        if len(classes) < 2:
            raise ValueError(f"{where}.labels: expected at least 2 classes, got {list(classes)}")
    index = class_index(classes)
    rows = {}
    for split, dataset in splits.items():
        rows[split] = [
            labelled(_cells(record, source.label, names), columns, index, f"{name} ({split}) row {i + 1}")
            for i, record in enumerate(dataset)
        ]
        if not rows[split]:
            raise ValueError(f"{where}.{split}: expected at least one row in {name}, got none")
    return classes, rows


def _cells(record: dict[str, Any], label: str, names: list[str] | None) -> dict[str, str]:
    """A record as text cells; a ``ClassLabel`` index becomes its name (an unlabelled ``-1`` stays ``-1``)."""
    cells = {k: _text(v) for k, v in record.items()}
    value = record.get(label)
    if names is not None and isinstance(value, int) and 0 <= value < len(names):
        cells[label] = names[value]
    return cells


def _text(value: Any) -> str:
    return "" if value is None else str(value)
