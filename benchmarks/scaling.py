"""Scaling study: training-step time, peak memory and FLOPs against input length M.

    python -m benchmarks.scaling --device cpu --threads 1 --budget-gib 8
    python -m benchmarks.scaling --device cuda

Models (batch 1, byte-level MLM, cross-entropy on every byte, AdamW): the language-mlm Perceiver IO
(256 × 1280 latents, 26 layers, decoding all M bytes) and a BERT-style Transformer (d 768, 12 heads, MLP ×4)
with as many layers as match Perceiver IO's training FLOPs at M = 2048, run twice: with fused SDPA
attention (memory linear in M, time quadratic) and with materialised attention scores (SDPA's math kernel,
as BERT and HF's eager attention do: memory quadratic in M).

Memory is capped at ``--budget-gib``: on a GPU through the allocator's per-process fraction, on a CPU by
running each point in a child process whose address space is limited to its size at start plus the budget.
A model is marked out of memory at the first length that fails and not run at longer ones; a point whose
predicted step time exceeds ``--max-step-seconds`` is marked as skipped for time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from contextlib import nullcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

import torchperceiver as tp
from benchmarks.measure import (
    CPU_MALLOC_ENV,
    count_flops,
    interleaved_times,
    median,
    transient_peak_bytes,
)
from benchmarks.report import GIB, describe_machine, machine, write_section
from benchmarks.transformer import TransformerMLM

PERCEIVER = "Perceiver IO"
FUSED = "Transformer (fused attention)"
MATERIALISED = "Transformer (materialised attention)"
MODELS = (PERCEIVER, FUSED, MATERIALISED)
MATCH_LENGTH = 2048
REPO_ROOT = Path(__file__).resolve().parents[1]


def build(model: str, length: int, perceiver_layers: int, transformer_layers: int) -> nn.Module:
    if model == PERCEIVER:
        return tp.build("language-mlm", max_seq_len=length, num_layers=perceiver_layers)
    return TransformerMLM(num_layers=transformer_layers, max_seq_len=length)


def attention_backend(model: str) -> Any:
    return sdpa_kernel(SDPBackend.MATH) if model == MATERIALISED else nullcontext()


def training_flops(model: str, length: int, perceiver_layers: int, transformer_layers: int) -> int:
    """Counted on the meta device (no memory, no compute); attention through the math kernel so it counts."""
    with torch.device("meta"):
        net = build(model, length, perceiver_layers, transformer_layers)
        ids = torch.zeros(1, length, dtype=torch.long)
    with sdpa_kernel(SDPBackend.MATH):
        return count_flops(lambda: F.cross_entropy(net(ids).flatten(0, 1), ids.flatten()).backward())


def flops_curve(model: str, perceiver_layers: int, transformer_layers: int) -> Callable[[int], int]:
    """Training FLOPs as a function of M from three exact counts: every matmul's FLOPs are a polynomial of
    degree ≤ 2 in M (projections and MLPs ∝ M, attention over the input ∝ M²), so three points fix it."""
    xs = (512, 1024, 2048)
    ys = [training_flops(model, m, perceiver_layers, transformer_layers) for m in xs]

    def at(m: int) -> int:
        total = Fraction(0)
        for i, (xi, yi) in enumerate(zip(xs, ys, strict=True)):
            term = Fraction(yi)
            for j, xj in enumerate(xs):
                if j != i:
                    term *= Fraction(m - xj, xi - xj)
            total += term
        return round(total)

    return at


def matched_transformer_layers(perceiver_layers: int) -> int:
    """The layer count whose Transformer FLOPs at M = 2048 are nearest Perceiver IO's (FLOPs are affine in it)."""
    target = training_flops(PERCEIVER, MATCH_LENGTH, perceiver_layers, 1)
    one, two = (training_flops(FUSED, MATCH_LENGTH, perceiver_layers, n) for n in (1, 2))
    return max(1, round(1 + (target - one) / (two - one)))


def _autocast(device: torch.device) -> Any:
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def measure_point(model: str, length: int, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Build, warm up, then peak memory (weights, gradients, optimizer state, activations) and step time."""
    baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else None
    with torch.device(device):  # built where it runs: a 2^20-byte model has 1.8 B parameters
        net = build(model, length, args.perceiver_layers, args.transformer_layers).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(6, 262, (1, length), device=device)

    def step() -> None:
        with attention_backend(model), _autocast(device):
            loss = F.cross_entropy(net(ids).flatten(0, 1).float(), ids.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        transient_peak_bytes(step, device)
        peak = torch.cuda.max_memory_allocated(device) - baseline
    else:
        resident = args.cpu_resident_before_step()  # weights, optimizer state, inputs
        peak = transient_peak_bytes(step, device) + resident
    times = interleaved_times({model: step}, device, repeats=args.repeats)
    return {"status": "ok", "seconds": median(times[model]), "peak_bytes": peak}


def is_oom(err: BaseException) -> bool:
    return isinstance(err, (torch.cuda.OutOfMemoryError, MemoryError)) or "can't allocate memory" in str(err)


def run_in_process(model: str, length: int, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    try:
        return measure_point(model, length, args, device)
    except (RuntimeError, MemoryError) as err:
        if not is_oom(err):
            raise
        return {"status": "oom"}
    finally:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def run_in_child(model: str, length: int, args: argparse.Namespace) -> dict[str, Any]:
    """One CPU point in a fresh process, its address space capped (an OOM there cannot touch the machine)."""
    point = json.dumps(dict(model=model, length=length, **{k: v for k, v in vars(args).items() if k != "doc"}))
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--point", point]
    env = {**os.environ, **CPU_MALLOC_ENV}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"status": "oom" if "can't allocate memory" in done.stderr else "error", "error": done.stderr[-500:]}
    return json.loads(lines[-1])


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def child_main(point: dict[str, Any]) -> None:
    """Runs in the child: limit the address space to its current size + the budget, then measure."""
    args = argparse.Namespace(**point)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.ones(256, 256) @ torch.ones(256, 256)  # start the thread pool before the cap
    rss_before = _status_kib("VmRSS")
    limit = _status_kib("VmSize") * 1024 + int(args.budget_gib * GIB)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    args.cpu_resident_before_step = lambda: (_status_kib("VmRSS") - rss_before) * 1024
    result = run_in_process(args.model, args.length, args, torch.device("cpu"))
    print(json.dumps(result), flush=True)


def sweep(args: argparse.Namespace, device: torch.device, model: str, record: Callable[[dict[str, Any]], None]) -> None:
    """One model over every length, each point ``record``ed as it is measured; stops at the first
    out-of-memory length or a predicted step too slow."""
    stopped, rate = None, None  # stopped: why longer lengths are not run; rate: FLOP/s seen so far
    flops_at = flops_curve(model, args.perceiver_layers, args.transformer_layers)
    for length in args.lengths:
        flops = flops_at(length)
        row = {"model": model, "length": length, "flops": flops}
        if stopped:
            row["status"] = stopped
        elif rate and flops / rate > args.max_step_seconds:
            row["status"] = stopped = "time"
        else:
            cpu = device.type == "cpu"
            row.update(run_in_child(model, length, args) if cpu else run_in_process(model, length, args, device))
            if row["status"] == "ok":
                rate = flops / row["seconds"]
            elif row["status"] == "oom":
                stopped = "oom"
        print(json.dumps(row), flush=True)
        record(row)


def plot(rows: list[dict[str, Any]], path: Path, title: str, budget_gib: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    panels = [("seconds", "training step (s)"), ("peak_bytes", "peak memory (GiB)"), ("flops", "FLOPs per step")]
    for model, colour in zip(MODELS, ("tab:blue", "tab:orange", "tab:red"), strict=True):
        mine = [r for r in rows if r["model"] == model]
        ok = [r for r in mine if r["status"] == "ok"]
        for ax, (key, _) in zip(axes, panels, strict=True):
            scale = 1 / GIB if key == "peak_bytes" else 1
            pts = mine if key == "flops" else ok
            ax.plot([r["length"] for r in pts], [r[key] * scale for r in pts], "o-", color=colour, label=model)
        oom = next((r for r in mine if r["status"] == "oom"), None)
        if oom is not None and ok:
            for ax, (key, _) in zip(axes[:2], panels[:2], strict=True):
                scale = 1 / GIB if key == "peak_bytes" else 1
                ax.plot([oom["length"]], [ok[-1][key] * scale], "x", color=colour, markersize=14, mew=3)
                ax.annotate("out of memory", (oom["length"], ok[-1][key] * scale), color=colour, fontsize=8)
    if budget_gib:
        axes[1].axhline(budget_gib, color="grey", linestyle="--", label=f"budget {budget_gib:g} GiB")
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("input length M (bytes)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def table(rows: list[dict[str, Any]]) -> str:
    lengths = sorted({r["length"] for r in rows})
    lines = ["| model | " + " | ".join(f"M = {m:,}" for m in lengths) + " |", "|---|" + "---:|" * len(lengths)]
    for model in [m for m in MODELS if any(r["model"] == m for r in rows)]:
        cells = []
        for m in lengths:
            r = next(r for r in rows if r["model"] == model and r["length"] == m)
            if r["status"] == "ok":
                cells.append(f"{r['seconds']:.3g} s, {r['peak_bytes'] / GIB:.2f} GiB, {r['flops'] / 1e12:.3g} TF")
            else:
                cells.append({"oom": "out of memory", "time": "skipped (time)"}.get(r["status"], r["status"]))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--lengths", type=int, nargs="+", default=None, help="default: 512 … 65,536 (CPU), … 2^20 (GPU)")
    p.add_argument("--perceiver-layers", type=int, default=26)
    p.add_argument("--transformer-layers", type=int, default=None, help="default: FLOPs-matched at M = 2048")
    p.add_argument("--budget-gib", type=float, default=None, help="memory cap (default: 8 on CPU, the whole GPU)")
    p.add_argument("--max-step-seconds", type=float, default=None, help="default 60 (CPU), 5 (GPU)")
    p.add_argument("--repeats", type=int, default=None, help="timed steps per point (default 1 CPU, 3 GPU)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument("--plot", type=Path, default=None, help="default docs/scaling.png (CPU), docs/scaling-cuda.png")
    p.add_argument("--no-doc", action="store_true")
    p.add_argument("--point", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    cpu = not args.device.startswith("cuda")
    args.lengths = args.lengths or [2**k for k in range(9, 17 if cpu else 21)]
    args.budget_gib = args.budget_gib or (8.0 if cpu else None)
    args.max_step_seconds = args.max_step_seconds or (60.0 if cpu else 5.0)
    args.repeats = args.repeats or (1 if cpu else 3)
    args.plot = args.plot or Path("docs/scaling.png" if cpu else "docs/scaling-cuda.png")
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    if args.point:
        child_main(json.loads(args.point))
        return []
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and args.budget_gib:
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.budget_gib * GIB / total), device)
    args.transformer_layers = args.transformer_layers or matched_transformer_layers(args.perceiver_layers)
    args.plot, args.doc = str(args.plot), str(args.doc)  # JSON-able for the child processes
    rows: list[dict[str, Any]] = []

    def record(row: dict[str, Any]) -> None:  # published after each point: a run cut short keeps what it measured
        rows.append(row)
        publish(args, device, rows)

    for model in MODELS:
        sweep(args, device, model, record)
    return rows


def publish(args: argparse.Namespace, device: torch.device, rows: list[dict[str, Any]]) -> None:
    info = machine(device)
    budget = f"{args.budget_gib:g} GiB cap" if args.budget_gib else "the whole GPU"
    title = (
        f"Perceiver IO ({args.perceiver_layers} layers) vs FLOPs-matched Transformer ({args.transformer_layers} "
        f"layers), batch 1, training step; {info.get('gpu') or info['cpu']}, memory: {budget}"
    )
    plot(rows, Path(args.plot), title, args.budget_gib)
    if not args.no_doc:
        body = f"**{title}** — {describe_machine(info)}.\n\n" + table(rows) + f"\n![scaling]({Path(args.plot).name})\n"
        data = dict(machine=info, settings={k: v for k, v in vars(args).items() if k != "point"}, rows=rows)
        write_section(Path(args.doc), f"scaling-{device.type}", body, data)


if __name__ == "__main__":
    main()
