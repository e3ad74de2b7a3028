"""Pictures of a reconstruction: frames side by side with the original, and the audio's waveform and spectrogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from torchperceiver.models.multimodal.quality import psnr


def _rgb(frame: torch.Tensor) -> np.ndarray:
    """``[3, H, W]`` in [-1, 1] → ``[H, W, 3]`` in [0, 1]."""
    return ((frame.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def frames_png(path: Path, original: torch.Tensor, recon: torch.Tensor, max_frames: int = 8) -> Path:
    """Up to ``max_frames`` frames (evenly spaced) of ``original`` over ``recon`` (both ``[T, 3, H, W]``)."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or GUI state

    picks = np.unique(np.linspace(0, len(original) - 1, min(max_frames, len(original))).round().astype(int))
    height, width = original.shape[-2:]
    scale = 1.6 / max(height, width) * max(1.0, 256 / max(height, width)) ** 0.5
    fig = Figure(figsize=(len(picks) * width * scale + 0.8, 2 * height * scale + 0.7), dpi=110)
    axes = fig.subplots(2, len(picks), squeeze=False)
    score = psnr(recon[None], original[None]).item()
    for col, t in enumerate(picks):
        for row, (video, name) in enumerate(((original, "original"), (recon, f"reconstruction ({score:.1f} dB)"))):
            ax = axes[row, col]
            ax.imshow(_rgb(video[t]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
            if row == 0:
                ax.set_title(f"frame {t}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def audio_png(path: Path, original: torch.Tensor, recon: torch.Tensor, sample_rate: int) -> Path:
    """Waveforms overlaid, then the spectrogram of each (both ``[S]``)."""
    from matplotlib.figure import Figure

    a, b = original.detach().float().cpu().numpy(), recon.detach().float().cpu().clamp(-1, 1).numpy()
    seconds = np.arange(len(a)) / sample_rate
    fig = Figure(figsize=(8, 6.5), dpi=100)
    wave, spec_a, spec_b = fig.subplots(3, 1, sharex=True)
    wave.plot(seconds, a, lw=0.6, label="original")
    wave.plot(
        seconds, b, lw=0.6, alpha=0.8, label=f"reconstruction ({psnr(recon[None], original[None]).item():.1f} dB)"
    )
    wave.set_ylabel("amplitude")
    wave.legend(loc="upper right", fontsize=8)
    nfft = int(min(512, 2 ** np.floor(np.log2(max(len(a) // 8, 16)))))
    floor = 10 * np.log10(max(float(np.square(a).mean()), 1e-12)) - 60
    for ax, signal, name in ((spec_a, a, "original"), (spec_b, b, "reconstruction")):
        # one colour scale for both, set by the original (a silent reconstruction stays black)
        ax.specgram(
            signal + 1e-9, NFFT=nfft, Fs=sample_rate, noverlap=nfft // 2, vmin=floor, vmax=floor + 70, cmap="magma"
        )
        ax.set_ylabel(f"{name}\nHz")
    spec_b.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    return path


def save_pictures(
    prefix: Path,
    image: torch.Tensor,
    recon_image: torch.Tensor,
    audio: torch.Tensor,
    recon_audio: torch.Tensor,
    sample_rate: int,
) -> list[Path]:
    """``<prefix>-frames.png`` and ``<prefix>-audio.png``."""
    prefix = Path(prefix)
    return [
        frames_png(prefix.with_name(prefix.name + "-frames.png"), image, recon_image),
        audio_png(prefix.with_name(prefix.name + "-audio.png"), audio, recon_audio, sample_rate),
    ]
