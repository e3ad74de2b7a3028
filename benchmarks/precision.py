"""fp32 against bf16 autocast: training speed of a recipe's model, A/B interleaved in one process.

    python -m benchmarks.precision mlm-tiny --threads 1
    python -m benchmarks.precision mlm-tiny --set model.num_layers=4 data.seq_len=512 model.max_seq_len=512

Each precision trains its own copy of the same initial model with the recipe's task, loss and optimizer on the
same batches (a step as the trainer runs it: autocast forward and loss, backward, clipping, optimizer step).
After a warm-up round, every round times ``--steps`` steps of each precision in rotated order; the table gives
medians, samples/s and the speed against fp32 (also paired per round). It measures speed only: quality needs
a whole run of each (``torchperceiver train RECIPE --set train.precision=bf16``).
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.data import default_collate

from benchmarks.measure import interleaved_times, median
from benchmarks.report import describe_machine, machine
from torchperceiver.training import recipe
from torchperceiver.training.optim import build_optimizer

DTYPES = {"fp32": None, "bf16": torch.bfloat16}


def train_steps(task: Any, model: nn.Module, rec: Any, batches: list[Any], dtype: torch.dtype | None) -> Callable:
    optimizer = build_optimizer(model, rec.optim)
    clip = rec.train.clip_grad_norm

    def run() -> None:
        for batch in batches:
            autocast = torch.autocast("cpu", dtype=dtype) if dtype is not None else nullcontext()
            with autocast:
                out = task.loss(model, batch)
            (out.loss / out.count.clamp(min=1)).backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip, foreach=True)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", default="mlm-tiny")
    p.add_argument("--set", nargs="*", default=[], help="recipe overrides, as for torchperceiver train")
    p.add_argument("--precisions", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=5, help="training steps per precision and round")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rec = recipe.load(args.recipe, args.set)
    task = rec.build_task()
    torch.manual_seed(rec.train.seed)
    base = task.build_model().train()
    data = task.train_dataset()
    size = rec.train.micro_batch_size or rec.train.batch_size
    batches = [default_collate([data[i * size + j] for j in range(size)]) for i in range(args.steps)]
    steps = {p: train_steps(task, copy.deepcopy(base), rec, batches, DTYPES[p]) for p in args.precisions}
    for step in steps.values():
        step()  # warm-up: optimizer state, allocator, oneDNN kernels
    device = torch.device("cpu")
    times = interleaved_times(steps, device, repeats=args.rounds)
    ref = args.precisions[0]
    rows = []
    for name, t in times.items():
        per_step = median(t) / args.steps
        rows.append(
            dict(
                precision=name,
                seconds_per_step=per_step,
                samples_per_s=size / per_step,
                speed_vs_ref=median(times[ref]) / median(t),
                speed_vs_ref_paired=median(a / b for a, b in zip(times[ref], t, strict=True)),
                times_s=[round(x, 3) for x in t],
            )
        )
    info = machine(device)
    params = sum(p.numel() for p in base.parameters())
    print(
        f"recipe {rec.name} ({params / 1e6:.2f}M parameters, batch {size}), {args.rounds} rounds × {args.steps} "
        f"steps; {describe_machine(info)}"
    )
    print(f"| precision | median s / step | samples/s | speed × {ref} | paired |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['precision']} | {r['seconds_per_step']:.4f} | {r['samples_per_s']:.1f} | "
            f"{r['speed_vs_ref']:.2f} | {r['speed_vs_ref_paired']:.2f} |"
        )
    result = dict(machine=info, settings=vars(args), parameters=params, rows=rows)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
