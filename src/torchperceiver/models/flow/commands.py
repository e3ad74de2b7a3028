"""``torchperceiver predict flow``: flow between two images of any size, written as a colour-wheel PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from torchperceiver.commands import register_command
from torchperceiver.core.io import load_model
from torchperceiver.models.flow.formats import read_image, write_flo
from torchperceiver.models.flow.inference import predict_pair, train_size, upscale_size
from torchperceiver.models.flow.visualize import flow_to_rgb, save_arrows, save_png


def _frame(image: np.ndarray) -> torch.Tensor:
    return torch.tensor(image).permute(2, 0, 1)[None].float() / 255


@register_command("predict", "flow", help="optical flow between two images (colour PNG, optional .flo)")
class PredictFlow:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("frame1", type=Path, help="first image (any size; both images the same size)")
        parser.add_argument("frame2", type=Path, help="second image")
        parser.add_argument("--checkpoint", type=Path, required=True, help="run, checkpoint or model directory")
        parser.add_argument("--out", type=Path, required=True, help="colour-wheel PNG of the flow")
        parser.add_argument("--flo", type=Path, default=None, help="also write the flow as a Middlebury .flo file")
        parser.add_argument("--arrows", action="store_true", help="also write <out>-arrows.png: frame 1 with arrows")
        parser.add_argument("--max-flow", type=float, default=None, help="colour scale in pixels (default: largest)")
        parser.add_argument("--min-overlap", type=int, default=20, help="tile overlap in pixels (default: 20)")
        parser.add_argument("--device", default="cpu")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        first, second = read_image(args.frame1), read_image(args.frame2)
        if first.shape != second.shape:
            raise ValueError(f"frame2: expected the size of frame1 {first.shape[:2]}, got {second.shape[:2]}")
        model = load_model(args.checkpoint, args.device).eval()
        size = first.shape[:2]
        tile = train_size(model)
        if upscale_size(size, tile) != size:
            print(f"note: {size[1]}×{size[0]} is smaller than the model's {tile[1]}×{tile[0]} tiles; resized up")
        device = torch.device(args.device)
        flow = predict_pair(model, _frame(first).to(device), _frame(second).to(device), args.min_overlap)[0].cpu()
        save_png(args.out, flow_to_rgb(flow, args.max_flow))
        written = [args.out]
        if args.flo is not None:
            write_flo(args.flo, flow.permute(1, 2, 0).numpy())
            written.append(args.flo)
        if args.arrows:
            arrows = args.out.with_name(f"{args.out.stem}-arrows.png")
            save_arrows(arrows, first, flow)
            written.append(arrows)
        length = torch.linalg.vector_norm(flow, dim=0)
        print(
            f"flow {size[1]}×{size[0]}: mean length {float(length.mean()):.2f} px, max {float(length.max()):.2f} px; "
            f"wrote {', '.join(str(p) for p in written)}"
        )
        return 0
