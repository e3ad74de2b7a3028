"""Image models on the command line: image files for ``predict classify`` and ``plot attention``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from torchperceiver.commands import class_names, register_classify_inputs, register_command, top_classes
from torchperceiver.core.io import load_model
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.vision.attention import cross_attention_maps, default_latents
from torchperceiver.models.vision.augment import normalization
from torchperceiver.models.vision.data import Decode, load_image
from torchperceiver.models.vision.plots import save_attention

#: Eval view of the released ImageNet models: the centre 224 of the shorter side resized to 256.
CROP_RATIO = 224 / 256


def model_image_size(model: PerceiverIO) -> tuple[int, int]:
    """The ``(H, W)`` images the model was made for: its learned table's size, or its Fourier grid × downsampling."""
    cfg = model.config.input_adapter
    size = getattr(cfg, "image_size", None)
    if size:
        return int(size[0]), int(size[1])
    factor = getattr(cfg, "spatial_downsample", 1)
    height, width = cfg.max_resolution  # type: ignore[attr-defined]  # every image config has one
    return int(height) * factor, int(width) * factor


def read_images(paths: list[str], model: PerceiverIO, crop_ratio: float = CROP_RATIO) -> torch.Tensor:
    """Image files → normalised ``[B, C, H, W]`` at the model's size: the shorter side resized to ``H / crop_ratio``
    and the centre ``H × W`` kept (files already ``H × W`` are used as they are)."""
    from PIL import Image

    channels = model.config.input_adapter.in_channels  # type: ignore[attr-defined]
    height, width = model_image_size(model)
    if height != width:
        raise ValueError(f"--checkpoint: expected a model for square images, got {height}×{width}")
    images = []
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"inputs: expected image files, got {path!r} (no such file)")
        try:
            with Image.open(path) as img:
                exact = img.size == (width, height)
            load = height if exact else round(height / crop_ratio)
            image = load_image(path, Decode(load, channels))
        except Exception as err:
            raise ValueError(f"inputs: expected a readable image, got {path} ({type(err).__name__}: {err})") from None
        top = (load - height) // 2
        images.append(image[:, top : top + height, top : top + width])
    x = torch.stack(images).float() / 255
    mean, std = normalization(channels)
    return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)


@register_classify_inputs("image")
def image_inputs(model: PerceiverIO, inputs: list[str]) -> tuple[torch.Tensor]:
    """``predict classify`` on image files: one batch at the model's size, on the model's device."""
    device = next(model.parameters()).device
    return (read_images(inputs, model).to(device),)


def _latents(text: str | None, num_latents: int) -> list[int]:
    if not text:
        return default_latents(num_latents)
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--latents: expected comma-separated integers, got {text!r}") from None


@register_command("plot", "attention", help="where chosen latents attend over an image (input cross-attention)")
class PlotAttention:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("image", type=Path, help="image file (resized and centre-cropped to the model's size)")
        parser.add_argument("--checkpoint", type=Path, required=True, help="run, checkpoint or model directory")
        parser.add_argument("--out", type=Path, required=True, help="PNG to write")
        parser.add_argument("--latents", default=None, help="comma-separated latent indices (default: 8 spread out)")
        parser.add_argument("--device", default="cpu")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        model = load_model(args.checkpoint, args.device).eval()
        if model.config.input_adapter.kind != "image":
            raise ValueError(f"--checkpoint: expected an image model, got {model.config.input_adapter.kind!r} inputs")
        x = read_images([str(args.image)], model).to(args.device)
        latents = _latents(args.latents, model.config.encoder.num_latents)
        maps = cross_attention_maps(model, x, latents)[0].mean(0).cpu()  # average over heads: [L, h, w]
        title = ""
        with torch.no_grad():
            logits = model(x)
        if isinstance(logits, torch.Tensor) and logits.dim() == 2:
            names = class_names(model, logits.shape[1])
            title = "predicted: " + top_classes(logits[0].float().softmax(-1).cpu(), names, 1)
        channels = x.shape[1]
        mean, std = normalization(channels)
        shown = (x[0].cpu() * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)).clamp(0, 1)
        save_attention(args.out, shown.permute(1, 2, 0).numpy(), maps, latents, title)
        grid = tuple(maps.shape[-2:])
        print(f"attention of {len(latents)} latents over a {grid[0]}×{grid[1]} input grid; wrote {args.out}")
        return 0
