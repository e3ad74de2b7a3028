"""``torchperceiver convert deepmind CHECKPOINT --preset NAME --out DIR`` and ``convert hub REPO --out DIR``."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

from torchperceiver.commands import register_command
from torchperceiver.core.model import PerceiverIO


def _save(model: PerceiverIO, out: Path) -> int:
    model.save_pretrained(out)
    count = sum(p.numel() for p in model.parameters())
    print(f"wrote {out} ({count:,} parameters); load it with tp.load({str(out)!r}) or --checkpoint {out}")
    return 0


@register_command("convert", "deepmind", help="an official DeepMind (Haiku) checkpoint → a model directory")
class ConvertDeepMind:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "checkpoint", type=Path, help="the released .pickle/.pystate file (read without running code)"
        )
        parser.add_argument("--preset", required=True, help="the preset it belongs to, e.g. language-mlm, vision-conv")
        parser.add_argument("--out", type=Path, required=True, help="directory for model.safetensors + config.json")
        parser.add_argument(
            "--set", nargs="+", action="extend", default=[], metavar="ARG=VALUE", help="preset arguments (other sizes)"
        )

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from torchperceiver.convert.deepmind import from_deepmind

        if not args.checkpoint.is_file():
            raise FileNotFoundError(f"checkpoint: expected a file, got {args.checkpoint}")
        return _save(from_deepmind(args.checkpoint, args.preset, **_overrides(args.set)), args.out)


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``["num_latents=4", "train_size=(6, 8)"]`` → keyword arguments (Python literals, else strings)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set: expected ARG=VALUE, got {pair!r}")
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


@register_command("convert", "hub", help="an HF hub Perceiver repo (id or local directory) → a model directory")
class ConvertHub:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("repo", help="e.g. deepmind/optical-flow-perceiver (needs huggingface_hub) or a directory")
        parser.add_argument("--out", type=Path, required=True, help="directory for model.safetensors + config.json")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from torchperceiver.convert.hub import from_pretrained

        return _save(from_pretrained(args.repo), args.out)
