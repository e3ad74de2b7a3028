"""Labelled texts from CSV, TSV and JSONL files: a text (or a text pair) and a label, columns named by the recipe.

Every row becomes a ``LabelledText``. A row that lacks a named column, has an empty text or a label outside
the known classes is a ``ValueError`` naming the file and the line, so a bad export is found at once rather
than trained on. TSV files are read without quote processing (as GLUE's files must be: their sentences hold
unbalanced quotes); CSV files follow the usual quoting rules.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("csv", "tsv", "jsonl")


@dataclass(frozen=True)
class LabelledText:
    """``label``: the class index, or the target value of a regression task."""

    text: str
    text_pair: str | None
    label: int | float


@dataclass(frozen=True)
class Columns:
    """Where the fields are: column names (header / JSON keys) or, for files without a header, 0-based indices."""

    text: str | int
    label: str | int
    text_pair: str | int | None = None


def table_format(path: Path) -> str:
    """``csv``, ``tsv`` or ``jsonl`` from the file's suffix (``.txt`` counts as TSV)."""
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"txt": "tsv", "json": "jsonl"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file, got suffix {path.suffix!r}")
    return fmt


def read_rows(path: Path, header: bool = True) -> Iterator[tuple[int, dict[str, str] | list[str]]]:
    """``(line number, row)`` of a table file: dicts by column name with a header (or JSONL), else lists."""
    if not path.is_file():
        raise ValueError(f"{path}: expected a data file, got a missing path")
    fmt = table_format(path)
    if fmt == "jsonl":
        yield from _jsonl_rows(path)
        return
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if fmt == "tsv" else csv.reader(f)
        names: list[str] | None = None
        for cells in reader:
            if not cells or cells == [""]:
                continue
            if header and names is None:
                names = cells
                continue
            line = reader.line_num
            yield line, (dict(zip(names, cells, strict=False)) if names is not None else cells)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {line}: expected a JSON object, got a parse error ({err.msg})") from err
            if not isinstance(record, dict):
                raise ValueError(f"{path} line {line}: expected a JSON object, got {type(record).__name__}")
            yield line, {k: "" if v is None else str(v) for k, v in record.items()}


def cell(row: dict[str, str] | list[str], column: str | int, where: str) -> str:
    """The value of ``column`` in ``row``; a missing column is an error naming ``where`` (file and line)."""
    try:
        value = row[column] if isinstance(row, dict) else row[int(column)]  # type: ignore[index]
    except (KeyError, IndexError, ValueError):
        have = sorted(row) if isinstance(row, dict) else f"{len(row)} columns"
        raise ValueError(f"{where}: expected a column {column!r}, got {have}") from None
    if value is None:  # csv.DictReader-style short rows
        raise ValueError(f"{where}: expected a column {column!r}, got a short row")
    return value


def read_labelled(
    path: Path,
    columns: Columns,
    classes: Sequence[str] | None,
    header: bool = True,
    label_aliases: dict[str, str] | None = None,
) -> list[LabelledText]:
    """Every row of ``path``. ``classes``: the class names (a label is its index); ``None``: a regression target.

    ``label_aliases`` maps raw label strings to class names (e.g. GLUE's ``"1"`` → ``"acceptable"``).
    """
    index = class_index(classes)
    out = [labelled(row, columns, index, f"{path} line {line}", label_aliases) for line, row in read_rows(path, header)]
    if not out:
        raise ValueError(f"{path}: expected at least one row, got none")
    return out


def class_index(classes: Sequence[str] | None) -> dict[str, int] | None:
    """Class name → label index; ``None`` (a regression) stays ``None``."""
    return {name: i for i, name in enumerate(classes)} if classes is not None else None


def labelled(
    row: dict[str, str] | list[str],
    columns: Columns,
    index: dict[str, int] | None,
    where: str,
    label_aliases: dict[str, str] | None = None,
) -> LabelledText:
    """One row as a ``LabelledText`` (``index`` from ``class_index``); errors name ``where``."""
    text = cell(row, columns.text, where)
    if not text.strip():
        raise ValueError(f"{where}: expected a text in column {columns.text!r}, got an empty one")
    pair = cell(row, columns.text_pair, where) if columns.text_pair is not None else None
    raw = cell(row, columns.label, where).strip()
    return LabelledText(text, pair, _label(raw, index, label_aliases, where))


def _label(raw: str, index: dict[str, int] | None, aliases: dict[str, str] | None, where: str) -> int | float:
    if index is None:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{where}: expected a number as the regression target, got {raw!r}") from None
    name = (aliases or {}).get(raw, raw)
    if name not in index:
        raise ValueError(f"{where}: expected a label in {sorted(index)}, got {raw!r}")
    return index[name]


def label_names(path: Path, column: str | int, header: bool = True) -> list[str]:
    """The sorted distinct labels of a file (the classes of a table whose recipe does not list them)."""
    names = {cell(row, column, f"{path} line {line}").strip() for line, row in read_rows(path, header)}
    if not names:
        raise ValueError(f"{path}: expected at least one row, got none")
    return sorted(names)
