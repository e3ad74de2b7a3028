"""``torchperceiver predict fill-mask``: fill the ``[MASK]`` bytes of a text with a masked-LM model."""

from __future__ import annotations

import argparse
from pathlib import Path

from torchperceiver.commands import register_command
from torchperceiver.core.io import load_model
from torchperceiver.models.language.mlm import fill_mask


@register_command("predict", "fill-mask", help="fill the [MASK] bytes of a text with a masked-LM model")
class PredictFillMask:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("text", help="text with [MASK] spans; each [MASK] stands for --width bytes")
        parser.add_argument("--checkpoint", type=Path, required=True, help="run, checkpoint or model directory")
        parser.add_argument("--width", type=int, default=1, help="bytes per [MASK] (default: 1)")
        parser.add_argument("--device", default="cpu")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        model = load_model(args.checkpoint, args.device)
        kind = model.config.output_adapter.kind
        if kind != "masked_lm":
            raise ValueError(f"--checkpoint: expected a masked-LM model, got output adapter {kind!r}")
        print(fill_mask(model, args.text, width=args.width), flush=True)
        return 0
