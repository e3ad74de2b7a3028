"""Text classification (and regression) fine-tuning: the ``text-classifier`` preset on one labelled task.

The paper fine-tunes its MLM on GLUE with a 2-layer tanh head (``model.head: mlp``); ``finetune.init``
starts from an MLM run (or any saved model) by copying its input adapter and encoder, and
``finetune.frozen_encoder_examples`` keeps that encoder frozen while the first N training examples go by
(a warm-up of the fresh head; N = steps × ``train.batch_size``; both in ``warmstart.py``). Metrics: per-batch
``accuracy`` (or ``mse``) as sums, and at each evaluation the task's GLUE metrics over the whole held-out set
(``eval_summary``); ``finish`` scores the test split (if the data has one) against the majority class.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.language.examples import TextExamples, trim_padding
from torchperceiver.models.language.metrics import Scores
from torchperceiver.models.language.sources import LoadedSource, TextSource, load_source
from torchperceiver.models.language.warmstart import FinetuneConfig, Finetuned
from torchperceiver.presets import ModelSection
from torchperceiver.training.data import EndlessDataset
from torchperceiver.training.task import Batch, TaskOutput, register_task


@dataclass
class ClassificationDataConfig(TextSource):
    """A ``TextSource`` (see ``sources.py``) and the window: texts are cut to ``seq_len`` bytes."""

    seq_len: int = 256

    def __post_init__(self) -> None:
        if self.seq_len < 2:
            raise ValueError(f"data.seq_len: expected at least 2, got {self.seq_len}")


def model_for(model: ModelSection, source: LoadedSource) -> ModelSection:
    """The recipe's model section with the data's classes (``num_classes``, ``labels``) filled in."""
    arguments = model.arguments()
    if "num_classes" not in arguments:
        raise ValueError(f"model.preset: expected a classifier preset (with num_classes), got {model.preset!r}")
    labels = source.classes if source.classes is not None else (source.name,)
    return dataclasses.replace(model, num_classes=source.num_outputs, labels=tuple(labels))  # type: ignore[type-var]


def output_loss(output: torch.Tensor, labels: torch.Tensor, regression: bool) -> tuple[torch.Tensor, dict[str, Any]]:
    """Summed loss and the per-batch metric (``accuracy``, or ``mse`` for a regression) as ``(sum, count)``."""
    count = torch.tensor(float(len(labels)), device=labels.device)
    if regression:
        error = F.mse_loss(output[:, 0].float(), labels.float(), reduction="sum")
        return error, {"mse": (error.detach(), count)}
    loss = F.cross_entropy(output.float(), labels, reduction="sum")
    return loss, {"accuracy": ((output.argmax(-1) == labels).sum(), count)}


@register_task
class TextClassificationTask:
    name: ClassVar[str] = "text-classification"
    default_preset: ClassVar[str] = "text-classifier"
    sections: ClassVar[dict[str, type]] = {"data": ClassificationDataConfig, "finetune": FinetuneConfig}

    def __init__(
        self, model: ModelSection, data: ClassificationDataConfig, finetune: FinetuneConfig | None = None, seed: int = 0
    ) -> None:
        self.source = load_source(data)
        self.model_cfg = model_for(model, self.source)
        max_seq_len = self.model_cfg.arguments().get("max_seq_len")
        if isinstance(max_seq_len, int) and data.seq_len > max_seq_len:
            raise ValueError(f"data.seq_len: expected at most model.max_seq_len={max_seq_len}, got {data.seq_len}")
        self.data_cfg, self.finetuned, self.seed = data, Finetuned(finetune), seed
        self.regression = self.source.classes is None
        self.scores = Scores(self.source.metrics, None if self.regression else self.source.num_outputs)

    def examples(self, split: str) -> TextExamples | None:
        rows = self.source.splits.get(split)
        return TextExamples(rows, self.data_cfg.seq_len, self.regression) if rows else None

    def build_model(self) -> PerceiverIO:
        return self.finetuned.build(self.model_cfg)

    def model_config(self, model: PerceiverIO) -> dict[str, Any]:
        return model.config.to_dict()

    def train_dataset(self) -> Dataset:
        train = self.examples("train")
        assert train is not None  # every source has training rows
        return self.finetuned.train_dataset(EndlessDataset(train, self.seed))

    def eval_dataset(self) -> Dataset | None:
        return self.examples("eval")

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        self.finetuned.follow(batch)
        input_ids, mask = trim_padding(batch)  # type: ignore[arg-type]
        output = model(input_ids, mask)
        labels = batch["labels"]
        loss, metrics = output_loss(output, labels, self.regression)
        if not model.training:
            self.scores.update(output[:, 0] if self.regression else output, labels)
        return TaskOutput(loss, torch.tensor(float(len(labels)), device=labels.device), metrics)

    def eval_summary(self) -> dict[str, float]:
        """The task's metrics over everything evaluated since the last call (the trainer calls this)."""
        return self.scores.compute()

    def demo(self, model: nn.Module) -> str | None:
        rows = (self.source.splits.get("eval") or self.source.splits["train"])[:3]
        return "\n".join(describe(model, row.text, row.text_pair, self.data_cfg.seq_len) for row in rows)

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """``test_metrics.json``: the test split's scores and the majority-class baseline (if there is a test split)."""
        test = self.examples("test")
        if test is None:
            return []
        result = {self.source.name: score_split(model, test, self.source, self.scores)}
        path = Path(run_dir) / "test_metrics.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"test: {json.dumps(result)}", flush=True)
        return [path]


@torch.no_grad()
def score_split(
    model: nn.Module, dataset: TextExamples, source: LoadedSource, scores: Scores, batch_size: int = 64
) -> dict[str, float]:
    """The source's metrics on ``dataset`` and, for classes, the accuracy of always answering the majority class."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            batch = {
                k: torch.stack([item[k] for item in items]).to(device)
                for k in ("input_ids", "attention_mask", "labels")
            }
            output = model(*trim_padding(batch))
            scores.update(output[:, 0] if source.classes is None else output, batch["labels"])
    finally:
        model.train(was_training)
    result = {**scores.compute(), "examples": float(len(dataset))}
    if source.majority is not None:
        labels = [row.label for row in dataset.examples]
        result["majority_accuracy"] = sum(label == source.majority for label in labels) / len(labels)
    return result


@torch.no_grad()
def describe(model: nn.Module, text: str, text_pair: str | None, seq_len: int) -> str:
    """``text → class (probability)`` for one text, in eval mode."""
    from torchperceiver.commands import class_names, top_classes
    from torchperceiver.models.language.examples import encode_text, pad_ids

    ids, mask = pad_ids(encode_text(text, text_pair, seq_len), seq_len)
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        output = model(ids[None].to(device), mask[None].to(device)).float().cpu()
    finally:
        model.train(was_training)
    shown = " ".join(text.split())[:60] + (f" [SEP] {' '.join(text_pair.split())[:40]}" if text_pair else "")
    if output.shape[1] == 1:
        return f"{shown} → {float(output[0, 0]):.3f}"
    return f"{shown} → {top_classes(output[0].softmax(-1), class_names(model, output.shape[1]), 2)}"  # type: ignore[arg-type]
