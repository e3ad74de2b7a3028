"""The GLUE tasks as their standard TSV files lay them out (``glue_data/<Task>/{train,dev}.tsv``).

Each layout says which columns hold the text, the second text and the label, the classes, and the metrics
GLUE reports for the task. Test files carry no labels, so the held-out split is ``dev`` (MNLI: the
matched dev set for ``mnli``, the mismatched one for ``mnli-mm``). STS-B is a regression on its 0–5 score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torchperceiver.models.language.tables import Columns, LabelledText, read_labelled


@dataclass(frozen=True)
class GlueLayout:
    folder: str
    columns: Columns
    classes: tuple[str, ...] | None  # None: regression
    metrics: tuple[str, ...]
    header: bool = True
    eval_file: str = "dev.tsv"
    aliases: dict[str, str] = field(default_factory=dict)


_BINARY = ("0", "1")
_NLI = ("entailment", "not_entailment")
GLUE: dict[str, GlueLayout] = {
    # CoLA's train/dev files have no header: source, label, original mark, sentence.
    "cola": GlueLayout("CoLA", Columns(text=3, label=1), ("unacceptable", "acceptable"), ("matthews",),
                       header=False, aliases={"0": "unacceptable", "1": "acceptable"}),
    "sst2": GlueLayout("SST-2", Columns("sentence", "label"), ("negative", "positive"), ("accuracy",),
                       aliases={"0": "negative", "1": "positive"}),
    "mrpc": GlueLayout("MRPC", Columns("#1 String", "Quality", "#2 String"), ("different", "paraphrase"),
                       ("f1", "accuracy"), aliases={"0": "different", "1": "paraphrase"}),
    "stsb": GlueLayout("STS-B", Columns("sentence1", "score", "sentence2"), None, ("pearson", "spearman")),
    "qqp": GlueLayout("QQP", Columns("question1", "is_duplicate", "question2"), ("different", "duplicate"),
                      ("accuracy", "f1"), aliases={"0": "different", "1": "duplicate"}),
    "mnli": GlueLayout("MNLI", Columns("sentence1", "gold_label", "sentence2"),
                       ("contradiction", "entailment", "neutral"), ("accuracy",), eval_file="dev_matched.tsv"),
    "mnli-mm": GlueLayout("MNLI", Columns("sentence1", "gold_label", "sentence2"),
                          ("contradiction", "entailment", "neutral"), ("accuracy",), eval_file="dev_mismatched.tsv"),
    "qnli": GlueLayout("QNLI", Columns("question", "label", "sentence"), _NLI, ("accuracy",)),
    "rte": GlueLayout("RTE", Columns("sentence1", "label", "sentence2"), _NLI, ("accuracy",)),
}  # fmt: skip


def glue_layout(task: str) -> GlueLayout:
    if task not in GLUE:
        raise ValueError(f"data.task: expected a GLUE task in {sorted(GLUE)}, got {task!r}")
    return GLUE[task]


def glue_file(root: str | Path, task: str, split: str) -> Path:
    """The TSV of ``split`` (``train`` or ``eval``) under ``root``: the task's folder or the GLUE root above it."""
    layout = glue_layout(task)
    name = "train.tsv" if split == "train" else layout.eval_file
    root = Path(root).expanduser()
    for folder in (root, root / layout.folder):
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"data.path: expected {name} of GLUE {layout.folder} in {str(root)!r} or its {layout.folder}/")


def read_glue(root: str | Path, task: str, split: str) -> list[LabelledText]:
    layout = glue_layout(task)
    return read_labelled(glue_file(root, task, split), layout.columns, layout.classes, layout.header, layout.aliases)
