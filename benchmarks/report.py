"""Where and when a benchmark ran, and writing its results (markdown table + JSON) into a doc section."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

GIB = 1024**3


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def machine(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "perceiver-pytorch": _version("perceiver-pytorch"),
        "git_commit": _git_commit(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / GIB, 1), cuda=torch.version.cuda)
    return info


def describe_machine(info: dict[str, Any]) -> str:
    chip = info.get("gpu") or f"{info['cpu']} ({info['cpu_count']} cores, {info['torch_threads']} torch threads)"
    versions = ", ".join(f"{k} {info[k]}" for k in ("torch", "transformers", "perceiver-pytorch") if info.get(k))
    return f"{chip}; {versions}; Python {info['python']}; commit {info['git_commit']}; {info['date']}"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| preset | shapes | mode | implementation | median ms | speed × HF | paired | GFLOP / call | TFLOP/s "
        "| % of peak | peak GiB | memory × HF | max abs diff vs HF |\n"
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        impl = r["impl"] + (f" ({r['note']})" if r.get("note") else "")
        if r.get("status") != "ok":
            lines.append(f"| {r['preset']} | {r['shapes']} | {r['mode']} | {impl} | {r.get('status')} |" + " |" * 8)
            continue
        lines.append(
            f"| {r['preset']} | {r['shapes']} | {r['mode']} | {impl} | {r['median_ms']:.1f} "
            f"| {_fmt(r.get('speed_vs_hf'), '.2f')} | {_fmt(r.get('speed_vs_hf_paired'), '.2f')} "
            f"| {_fmt(r['flops'] / 1e9 if r.get('flops') else None, '.1f')} "
            f"| {_fmt(r.get('tflops'), '.3g')} | {_fmt(r.get('peak_share_pct'), '.1f')} "
            f"| {_fmt(r['peak_bytes'] / GIB if r.get('peak_bytes') is not None else None, '.2f')} "
            f"| {_fmt(r.get('memory_vs_hf'), '.2f')} | {_fmt(r.get('max_abs_diff'), '.1e')} |"
        )
    return header + "\n".join(lines) + "\n"


def write_section(doc: Path, key: str, body: str, data: dict[str, Any]) -> None:
    """Replace (or append) the marked section ``key`` of ``doc`` with ``body`` and the raw JSON."""
    begin, end = f"<!-- results:{key} begin -->", f"<!-- results:{key} end -->"
    section = (
        f"{begin}\n{body}\n<details><summary>raw JSON ({key})</summary>\n\n```json\n"
        f"{json.dumps(data, indent=1)}\n```\n\n</details>\n{end}"
    )
    text = doc.read_text() if doc.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
