"""torchperceiver vs HF transformers (and perceiver-pytorch) on identical configs and copied weights.

    python -m benchmarks.compare --device cpu                       # reduced shapes, fp32
    python -m benchmarks.compare --device cuda --size full --compile  # released shapes, bf16 autocast

Training step = forward, loss, backward, AdamW step (the same optimizer for every implementation);
inference = forward under ``inference_mode``. Every implementation runs in the same process, A/B
interleaved, and the table reports medians and ratios against HF from this one run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from benchmarks.entries import ENTRIES, HF, OURS, Case, Impl, Mode, Unavailable
from benchmarks.measure import (
    CPU_MALLOC_ENV,
    count_flops,
    interleaved_times,
    matmul_probe,
    median,
    optimizer_state_bytes,
    tensor_bytes,
    transient_peak_bytes,
)
from benchmarks.report import describe_machine, machine, markdown_table, write_section
from torchperceiver.core.attention import MultiHeadAttention

DOC = Path("docs/benchmarks.md")
PEAK = "dense matmul"


def to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def input_tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in input_tensors(v)]
    return []


def autocast(device: torch.device) -> Any:
    """bf16 mixed precision on a GPU (fp32 weights, bf16 matmuls); plain fp32 on a CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def adamw(model: nn.Module) -> torch.optim.Optimizer:
    """One fused kernel for the whole update (no per-parameter launches, no host syncs)."""
    return torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)


def train_step(case: Case, impl: Impl, optimizer: torch.optim.Optimizer, device: torch.device) -> Callable[[], None]:
    def step() -> None:
        with autocast(device):
            loss = case.loss(impl.forward(impl.model, case.inputs), case.inputs)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def infer_step(case: Case, impl: Impl, device: torch.device) -> Callable[[], None]:
    def step() -> None:
        with torch.inference_mode(), autocast(device):
            impl.forward(impl.model, case.inputs)

    return step


def flops_of(case: Case, impl: Impl, mode: Mode) -> int:
    impl.model.train(mode == "train")
    if mode == "infer":
        with torch.no_grad():
            return count_flops(lambda: impl.forward(impl.model, case.inputs))
    return count_flops(lambda: case.loss(impl.forward(impl.model, case.inputs), case.inputs).backward())


def model_flops(case: Case, impl: Impl, mode: Mode, fold: bool = True) -> int:
    """Counted on a meta-device copy: no memory and no compute, so released shapes cost nothing to count (HF
    itself cannot run on meta tensors: it reads values on the host). Attention runs unpadded through the math
    kernel, so torchperceiver's count is the model's own; with ``fold=False`` (every key and value projected)
    it equals HF's plain matmuls (see the smoke tests)."""
    meta = copy.deepcopy(impl.model).to("meta")
    for module in meta.modules():
        if isinstance(module, MultiHeadAttention):
            module.qk_pad = module.v_pad = 0
            module.fold_pad = 1  # the constant channel only
            module.fold = fold
    meta_case = dataclasses.replace(case, inputs=to_device(case.inputs, torch.device("meta")))
    with sdpa_kernel(SDPBackend.MATH):
        return flops_of(meta_case, Impl(meta, impl.forward), mode)


def max_abs_diffs(case: Case) -> dict[str, float]:
    """fp32 eval outputs of every same-model implementation against HF's (proves the copy is identical)."""
    with torch.no_grad():
        outputs = {}
        for name, impl in case.impls.items():
            if impl.same_model:
                outputs[name] = impl.forward(impl.model.eval(), case.inputs).float()
    return {name: (out - outputs[HF]).abs().max().item() for name, out in outputs.items() if name != HF}


def host_sync_check(step: Callable[[], None], device: torch.device) -> str | None:
    """'none', or the first host-device synchronisation of a step (CUDA's sync debug mode)."""
    if device.type != "cuda":
        return None
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    except RuntimeError as err:
        return str(err).splitlines()[0][:120]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return "none"


def run_mode(case: Case, mode: Mode, device: torch.device, args: argparse.Namespace, probe: Any) -> list[dict]:
    steps, persistent = {}, {}
    impls = {name: impl for name, impl in case.impls.items() if mode in impl.modes}
    for name, impl in impls.items():
        impl.model.train(mode == "train")
        weights = tensor_bytes(impl.model.parameters()) + tensor_bytes(input_tensors(case.inputs))
        if mode == "train":
            optimizer = adamw(impl.model)
            steps[name] = train_step(case, impl, optimizer, device)
            persistent[name] = (weights, optimizer)
        else:
            steps[name] = infer_step(case, impl, device)
            persistent[name] = (weights, None)
    out_of_memory = set()
    for name, step in steps.items():
        try:
            for _ in range(max(1, args.warmup)):
                step()
        except torch.cuda.OutOfMemoryError:
            out_of_memory.add(name)
            torch.cuda.empty_cache()
    steps = {name: step for name, step in steps.items() if name not in out_of_memory}
    memory = {}
    for name, step in steps.items():
        transient = transient_peak_bytes(step, device)
        weights, optimizer = persistent[name]
        state = optimizer_state_bytes(optimizer) if optimizer is not None else 0
        memory[name] = None if transient is None else transient + weights + state
    syncs = {name: host_sync_check(step, device) for name, step in steps.items()}
    probe_fn, probe_flops = probe
    times = interleaved_times({**steps, PEAK: probe_fn}, device, repeats=args.repeats)
    peak = probe_flops / min(times[PEAK])
    rows = []
    hf_time, hf_mem = (median(times[HF]), memory[HF]) if HF in steps else (None, None)
    for name, impl in impls.items():
        if name in out_of_memory:
            rows.append(dict(preset=case.preset, shapes=case.shapes, mode=mode, impl=name, status="out of memory"))
            continue
        t = median(times[name])
        flops = case.flops[mode][name]
        rate = flops / t
        rows.append(
            dict(
                preset=case.preset,
                shapes=case.shapes,
                mode=mode,
                impl=name,
                note=impl.note,
                status="ok",
                median_ms=t * 1e3,
                times_ms=[round(x * 1e3, 2) for x in times[name]],
                speed_vs_hf=hf_time / t if hf_time else None,
                speed_vs_hf_paired=median(h / x for h, x in zip(times[HF], times[name], strict=True))
                if hf_time
                else None,
                flops=flops,
                tflops=rate / 1e12,
                peak_share_pct=100 * rate / peak,
                matmul_peak_tflops=peak / 1e12,
                peak_bytes=memory[name],
                memory_vs_hf=memory[name] / hf_mem if memory[name] and hf_mem else None,
                max_abs_diff=case.diffs.get(name),
                host_syncs=syncs[name],
            )
        )
    return rows


def prepare(case: Case, device: torch.device, compile_ours: bool) -> None:
    """FLOPs (before the models move), then the models on the device and their outputs against HF's."""
    ours = case.impls[OURS]
    if compile_ours:
        compiled = torch.compile(copy.deepcopy(ours.model))
        case.impls[OURS + " (compiled)"] = Impl(compiled, ours.forward, modes=ours.modes, flops_like=OURS)
    case.flops = {}
    for mode in case.modes:
        twins = {name: (impl.flops_like or name, name != HF) for name, impl in case.impls.items()}
        counts = {twin: model_flops(case, case.impls[twin[0]], mode, fold=twin[1]) for twin in set(twins.values())}
        case.flops[mode] = {name: counts[twin] for name, twin in twins.items()}
    case.inputs = to_device(case.inputs, device)
    for impl in case.impls.values():
        impl.model.to(device)
    case.diffs = max_abs_diffs(case)


def run_case(name: str, device: torch.device, args: argparse.Namespace, probe: Any) -> list[dict]:
    case = ENTRIES[name](args.size)
    prepare(case, device, args.compile)
    rows = []
    for mode in [m for m in case.modes if m in args.modes]:
        mode_rows = run_mode(case, mode, device, args, probe)
        print(markdown_table(mode_rows), flush=True)
        rows += mode_rows
    return rows


def publish(args: argparse.Namespace, device: torch.device, rows: list[dict], skipped: dict) -> dict:
    """The result so far, written into the doc's section for this device, size and compile setting."""
    precision = "bf16 autocast" if device.type == "cuda" else "fp32"
    info = machine(device)
    settings = {k: v for k, v in vars(args).items() if k not in ("doc", "no_doc", "key")}
    peak = max((r["matmul_peak_tflops"] for r in rows if r.get("status") == "ok"), default=0.0)
    result = dict(machine=info, settings=settings, matmul_peak_tflops=peak, rows=rows, skipped=skipped)
    threads = f", {torch.get_num_threads()} CPU thread(s)" if device.type == "cpu" else ""
    compiled = ", torch.compile" if args.compile else ""
    body = (
        f"**{device.type.upper()} {precision}, size `{args.size}`{compiled}{threads}, median of {args.repeats} "
        f"interleaved rounds** — {describe_machine(info)}. Dense-matmul peak (best interleaved round): "
        f"{peak:.3g} TFLOP/s.\n\n" + markdown_table(rows)
    )
    if skipped:
        body += "\nNot run: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "\n"
    if not args.no_doc:
        key = args.key or f"compare-{device.type}-{args.size}" + ("-compiled" if args.compile else "")
        write_section(args.doc, key, body, result)
    return result


def reexec_with_malloc_env() -> None:
    """CPU peak memory is read from the resident set, which needs glibc to return freed blocks (measure.py)."""
    if all(os.environ.get(k) == v for k, v in CPU_MALLOC_ENV.items()):
        return
    argv = [sys.executable, "-m", "benchmarks.compare", *sys.argv[1:]]
    os.execve(sys.executable, argv, {**os.environ, **CPU_MALLOC_ENV})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", choices=["full", "cpu", "tiny"], default=None, help="default: full on cuda, else cpu")
    p.add_argument("--presets", nargs="+", default=list(ENTRIES), choices=list(ENTRIES))
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (medians are reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time torch.compile(torchperceiver)")
    p.add_argument("--modes", nargs="+", choices=["train", "infer"], default=["train", "infer"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadiest on a shared CPU)")
    p.add_argument("--doc", type=Path, default=DOC, help="markdown file whose results section is replaced")
    p.add_argument("--no-doc", action="store_true", help="print only")
    p.add_argument("--key", default=None, help="the doc's results section (default: compare-DEVICE-SIZE[-compiled])")
    args = p.parse_args(argv)
    args.size = args.size or ("full" if args.device.startswith("cuda") else "cpu")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu" and argv is None:
        reexec_with_malloc_env()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    probe = matmul_probe(device, torch.bfloat16 if device.type == "cuda" else torch.float32)
    rows, skipped = [], {}
    result = {}
    for name in args.presets:
        try:
            rows += run_case(name, device, args, probe)
        except Unavailable as err:
            skipped[name] = str(err)
            print(f"skipped {name}: {err}", flush=True)
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        result = publish(args, device, rows, skipped)
    return result


if __name__ == "__main__":
    main()
