"""Reconstructing a video file with a trained (or converted) multimodal autoencoder.

Any clip is cut to the model's input: ``num_frames`` frames from ``start`` at ``fps``, resized and
centre-cropped to its frame size, the audio resampled to ``num_samples · fps / num_frames`` Hz (released
model: 16 frames of 224², 30,720 samples; at 25 fps that is 48 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from torchperceiver.adapters.audio import AudioInputConfig
from torchperceiver.adapters.label import LabelInputConfig
from torchperceiver.adapters.video import VideoInputConfig
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.multimodal.pictures import save_pictures
from torchperceiver.models.multimodal.quality import (
    Compression,
    compression,
    mean_audio,
    mean_video,
    multimodal_configs,
    psnr,
)
from torchperceiver.models.multimodal.reconstruct import reconstruct
from torchperceiver.models.multimodal.video import ClipFormat, read_clip, write_clip


def clip_format(model: PerceiverIO, fps: float = 25.0) -> ClipFormat:
    """The clip ``model`` was built for (its Fourier grids), at ``fps``."""
    modalities = multimodal_configs(model)[0].modalities
    video, audio = modalities.get("image"), modalities.get("audio")
    if not isinstance(video, VideoInputConfig) or not isinstance(audio, AudioInputConfig):
        raise ValueError(f"--checkpoint: expected video ('image') and audio inputs, got {sorted(modalities)}")
    frames, height, width = (n * p for n, p in zip(video.max_resolution, video.patch_size, strict=True))
    return ClipFormat(frames, (height, width), audio.max_resolution, fps)


@dataclass
class Reconstruction:
    clip: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    fmt: ClipFormat
    compression: Compression
    files: list[Path]

    def psnrs(self) -> dict[str, float]:
        video, audio = self.clip["image"][None], self.clip["audio"][None]
        return {
            "video": psnr(self.outputs["image"], video).item(),
            "audio": psnr(self.outputs["audio"], audio).item(),
            "baseline video": psnr(mean_video(video), video).item(),
            "baseline audio": psnr(mean_audio(audio), audio).item(),
        }


def model_inputs(model: PerceiverIO, clip: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """A batch of one; the label (if the model has one) is all zeros: unknown, and masked in eval mode."""
    inputs = {"audio": clip["audio"][None].to(device), "image": clip["image"][None].to(device)}
    label = multimodal_configs(model)[0].modalities.get("label")
    if isinstance(label, LabelInputConfig):
        inputs["label"] = torch.zeros(1, label.num_classes, device=device)
    return inputs


@torch.no_grad()
def reconstruct_file(
    model: PerceiverIO,
    path: str | Path,
    out: str | Path,
    *,
    fps: float = 25.0,
    start: float = 0.0,
    chunk_size: int = 16384,
    audio_gain: float = 1.0,
) -> Reconstruction:
    """Reconstruct the clip of ``path`` from ``start`` seconds; write ``out`` (mp4) and its two PNGs beside it.

    ``audio_gain``: the gain the model was trained with (``data.audio_gain``); the mp4 gets the original level.
    """
    if audio_gain <= 0:
        raise ValueError(f"audio_gain: expected > 0, got {audio_gain}")
    fmt = clip_format(model, fps)
    clip = read_clip(path, fmt, start)
    clip["audio"] = (clip["audio"] * audio_gain).clamp(-1, 1)
    device = next(model.parameters()).device
    inputs = model_inputs(model, clip, device)
    model.eval()
    outputs = {k: v.float().cpu() for k, v in reconstruct(model, inputs, chunk_size=chunk_size).items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    video, audio = outputs["image"][0], outputs["audio"][0]
    files = [write_clip(out, video, audio / audio_gain, fmt.fps, fmt.sample_rate)]
    files += save_pictures(out.with_suffix(""), clip["image"], video, clip["audio"], audio, fmt.sample_rate)
    return Reconstruction(clip, outputs, fmt, compression(model, inputs), files)
