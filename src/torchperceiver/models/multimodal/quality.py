"""How good a reconstruction is, and how hard the bottleneck squeezes.

PSNR is ``10·log10(range² / MSE)`` per clip with ``range = 2``: video and audio both live in [-1, 1] (video
PSNR is then the usual 8-bit PSNR of [0, 255] frames). Reconstructions are clipped to [-1, 1] first. The
baseline predicts every clip by its own mean (per colour channel for video): a model must beat it to have
learned anything beyond the average colour and the DC offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from torchperceiver.adapters.multimodal import MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.core.model import PerceiverIO

DATA_RANGE = 2.0


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-item PSNR in dB: ``[B, ...]`` × 2 → ``[B]``."""
    error = (prediction.detach().float().clamp(-1, 1) - target.float()).square().flatten(1).mean(1)
    return 10 * torch.log10(DATA_RANGE**2 / error.clamp(min=1e-10))


def mean_video(video: torch.Tensor) -> torch.Tensor:
    """``[B, T, C, H, W]`` → each clip's mean colour everywhere."""
    return video.float().mean(dim=(1, 3, 4), keepdim=True).expand_as(video)


def mean_audio(audio: torch.Tensor) -> torch.Tensor:
    """``[B, S]`` → each clip's mean sample everywhere."""
    return audio.float().mean(dim=1, keepdim=True).expand_as(audio)


@dataclass(frozen=True)
class Compression:
    """Sizes of one example: the input array the encoder reads, the signal it holds, the latent array."""

    positions: int
    channels: int
    video_positions: int
    signal_values: int
    latents: int
    latent_dim: int

    @property
    def latent_values(self) -> int:
        return self.latents * self.latent_dim

    @property
    def array_ratio(self) -> float:
        """Input array values (positions × padded channels) per latent value."""
        return self.positions * self.channels / self.latent_values

    @property
    def paper_ratio(self) -> float:
        """The paper's count: video positions × padded channels per latent value (784 latents: 88×)."""
        return self.video_positions * self.channels / self.latent_values

    @property
    def signal_ratio(self) -> float:
        """Raw pixel, sample and label values per latent value."""
        return self.signal_values / self.latent_values

    def describe(self) -> str:
        return (
            f"latents {self.latents} × {self.latent_dim} = {self.latent_values:,} values; "
            f"input array {self.positions:,} × {self.channels} "
            f"(compression {self.array_ratio:.1f}×; "
            f"the paper's count, video positions only: {self.paper_ratio:.1f}×); "
            f"raw signal {self.signal_values:,} values ({self.signal_ratio:.1f}×)"
        )


def multimodal_configs(model: PerceiverIO) -> tuple[MultimodalInputConfig, MultimodalOutputConfig]:
    """The input and output adapter configs of a multimodal autoencoder (``ValueError`` for another model)."""
    inputs, outputs = model.config.input_adapter, model.config.output_adapter
    if not isinstance(inputs, MultimodalInputConfig) or not isinstance(outputs, MultimodalOutputConfig):
        raise ValueError(f"--checkpoint: expected a multimodal autoencoder, got a {inputs.kind!r} input")
    return inputs, outputs


@torch.no_grad()
def compression(model: PerceiverIO, inputs: dict[str, Any]) -> Compression:
    """The sizes of the first example of ``inputs`` as ``model`` encodes it."""
    one = {name: value[:1] for name, value in inputs.items()}
    encoded = model.input_adapter(one)
    video = encoded.context.modalities.get("image")
    patch = getattr(multimodal_configs(model)[0].modalities.get("image"), "patch_size", (1, 1, 1))
    frames, height, width = video.video_size if video is not None else (0, 0, 0)
    video_positions = frames * height * width // (patch[0] * patch[1] * patch[2])
    encoder = model.config.encoder
    return Compression(
        positions=encoded.x.shape[1],
        channels=encoded.x.shape[2],
        video_positions=video_positions,
        signal_values=sum(value[0].numel() for value in one.values()),
        latents=encoder.num_latents,
        latent_dim=encoder.latent_dim,
    )
