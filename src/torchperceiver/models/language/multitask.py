"""Several text tasks, one model: the ``text-multitask`` preset decodes one query per task from shared latents.

Batches mix the tasks: each training example first draws its task (probabilities from ``data.mix``:
``proportional`` to the tasks' training sizes, ``uniform``, or explicit ``data.weights``), then an example of
that task, both from a generator seeded by ``(seed, index)``, so the stream stays a pure function of the
index. Every example's loss reads its own task's output only; metrics are reported per task
(``<task>/accuracy``, and each task's GLUE metrics at evaluation).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.language.classification import output_loss, score_split
from torchperceiver.models.language.examples import TextExamples, trim_padding
from torchperceiver.models.language.metrics import Scores
from torchperceiver.models.language.sources import TextSource, load_source
from torchperceiver.models.language.warmstart import FinetuneConfig, Finetuned
from torchperceiver.presets import ModelSection
from torchperceiver.training.task import Batch, TaskOutput, register_task


@dataclass
class MultiTaskDataConfig:
    """``tasks``: one ``TextSource`` per task (its ``task`` names it, unique); texts are cut to ``seq_len``."""

    tasks: list[TextSource] = field(default_factory=list)
    seq_len: int = 256
    mix: Literal["proportional", "uniform"] = "proportional"
    weights: list[float] | None = None

    def __post_init__(self) -> None:
        if len(self.tasks) < 1:
            raise ValueError("data.tasks: expected at least one task, got none")
        names = [source.task or source.format for source in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"data.tasks: expected distinct task names, got {names}")
        if self.weights is not None and (
            len(self.weights) != len(self.tasks) or min(self.weights) < 0 or sum(self.weights) <= 0
        ):
            raise ValueError(
                f"data.weights: expected {len(self.tasks)} non-negative weights (not all 0), got {self.weights}"
            )
        if self.seq_len < 2:
            raise ValueError(f"data.seq_len: expected at least 2, got {self.seq_len}")


class MixedTasks(Dataset):
    """Item ``i``: task ``t`` drawn with ``probabilities``, then a uniformly drawn example of task ``t``."""

    def __init__(self, datasets: list[TextExamples], probabilities: np.ndarray, seed: int) -> None:
        self.datasets, self.probabilities, self.seed = datasets, probabilities, seed

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        task = int(rng.choice(len(self.datasets), p=self.probabilities))
        return self.datasets[task][int(rng.integers(len(self.datasets[task])))]


class Interleaved(Dataset):
    """The tasks' held-out sets taken in turn (task 0's first example, task 1's first, …, task 0's second, …),
    so the first ``eval_batches`` that the trainer scores hold every task, in equal shares while they last."""

    def __init__(self, datasets: list[TextExamples]) -> None:
        self.datasets = datasets
        longest = max(len(d) for d in datasets)
        self.order = [(t, k) for k in range(longest) for t, d in enumerate(datasets) if k < len(d)]

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        t, k = self.order[index]
        return self.datasets[t][k]


def mixing_probabilities(data: MultiTaskDataConfig, sizes: list[int]) -> np.ndarray:
    weights = np.array(
        data.weights if data.weights is not None else sizes if data.mix == "proportional" else [1.0] * len(sizes),
        dtype=float,
    )
    return weights / weights.sum()


@register_task
class TextMultiTaskTask:
    name: ClassVar[str] = "text-multitask"
    default_preset: ClassVar[str] = "text-multitask"
    sections: ClassVar[dict[str, type]] = {"data": MultiTaskDataConfig, "finetune": FinetuneConfig}

    def __init__(
        self, model: ModelSection, data: MultiTaskDataConfig, finetune: FinetuneConfig | None = None, seed: int = 0
    ) -> None:
        self.sources = [load_source(source, f"data.tasks[{i}]") for i, source in enumerate(data.tasks)]
        arguments = model.arguments()
        if "tasks" not in arguments:
            raise ValueError(f"model.preset: expected a multi-task preset (with tasks), got {model.preset!r}")
        self.model_cfg = dataclasses.replace(
            model,  # type: ignore[type-var]
            tasks=tuple(s.name for s in self.sources),
            num_outputs=tuple(s.num_outputs for s in self.sources),
            labels=tuple(s.classes if s.classes is not None else (s.name,) for s in self.sources),
        )
        max_seq_len = arguments.get("max_seq_len")
        if isinstance(max_seq_len, int) and data.seq_len > max_seq_len:
            raise ValueError(f"data.seq_len: expected at most model.max_seq_len={max_seq_len}, got {data.seq_len}")
        self.data_cfg, self.finetuned, self.seed = data, Finetuned(finetune), seed
        self.scores = [Scores(s.metrics, None if s.classes is None else s.num_outputs) for s in self.sources]
        self.probabilities = mixing_probabilities(data, [len(s.splits["train"]) for s in self.sources])

    def examples(self, t: int, split: str) -> TextExamples | None:
        rows = self.sources[t].splits.get(split)
        regression = self.sources[t].classes is None
        return TextExamples(rows, self.data_cfg.seq_len, regression, task_index=t) if rows else None

    def build_model(self) -> PerceiverIO:
        return self.finetuned.build(self.model_cfg)

    def model_config(self, model: PerceiverIO) -> dict[str, Any]:
        return model.config.to_dict()

    def train_dataset(self) -> Dataset:
        datasets = [self.examples(t, "train") for t in range(len(self.sources))]
        mixed = MixedTasks([d for d in datasets if d is not None], self.probabilities, self.seed)
        return self.finetuned.train_dataset(mixed)

    def eval_dataset(self) -> Dataset | None:
        datasets = [d for t in range(len(self.sources)) if (d := self.examples(t, "eval")) is not None]
        return Interleaved(datasets) if datasets else None

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        self.finetuned.follow(batch)
        input_ids, mask = trim_padding(batch)  # type: ignore[arg-type]
        outputs = model(input_ids, mask)
        task, labels = batch["task"], batch["labels"]
        total = torch.zeros((), device=labels.device)
        metrics: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for t, source in enumerate(self.sources):
            if not model.training and not source.splits.get("eval"):
                continue  # the same metric names on every rank and batch: only tasks that are evaluated
            chosen = task == t
            regression = source.classes is None
            output, target = outputs[source.name][chosen], labels[chosen]
            target = target.float() if regression else target.long()
            loss, task_metrics = output_loss(output, target, regression)
            total = total + loss
            metrics.update({f"{source.name}/{k}": v for k, v in task_metrics.items()})
            if not model.training:
                self.scores[t].update(output[:, 0] if regression else output, target)
        return TaskOutput(total, torch.tensor(float(len(labels)), device=labels.device), metrics)

    def eval_summary(self) -> dict[str, float]:
        return {
            f"{s.name}/{k}": v
            for s, scores in zip(self.sources, self.scores, strict=True)
            for k, v in scores.compute().items()
        }

    def demo(self, model: nn.Module) -> str | None:
        from torchperceiver.models.language.predict import describe_all

        rows = [(s.splits.get("eval") or s.splits["train"])[0] for s in self.sources]
        return "\n".join(describe_all(model, row.text, row.text_pair, self.data_cfg.seq_len) for row in rows)

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """``test_metrics.json``: every task's test scores and majority-class baseline (tasks with a test split)."""
        result = {}
        for t, source in enumerate(self.sources):
            test = self.examples(t, "test")
            if test is not None:
                result[source.name] = score_split(_TaskView(model, source.name), test, source, self.scores[t])
        if not result:
            return []
        path = Path(run_dir) / "test_metrics.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"test: {json.dumps(result)}", flush=True)
        return [path]


class _TaskView(nn.Module):
    """One task's output of a multi-task model, as a single-task model returns it."""

    def __init__(self, model: nn.Module, task: str) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids, attention_mask)[self.task]
