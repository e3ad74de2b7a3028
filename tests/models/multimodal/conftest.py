"""Small real video files for the multimodal tests, written with PyAV (H.264 + AAC in mp4).

``write_video(path, frames=12, fps=25, audio=True, ...)``: frame ``i`` is a flat colour with red level ``12 · i``
(so timing can be checked), the audio a stereo 0.5-amplitude sine.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")


RED_STEP = 12


def _write(
    path: Path,
    *,
    frames: int = 12,
    size: tuple[int, int] = (24, 32),
    fps: int = 25,
    audio: bool = True,
    rate: int = 44100,
    frequency: float = 440.0,
) -> Path:
    height, width = size
    with av.open(str(path), mode="w") as container:  # every stream is added before the first packet
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "1"}
        sound = container.add_stream("aac", rate=rate) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        for i in range(frames):
            pixels = np.zeros((height, width, 3), np.uint8)
            level = min(RED_STEP * i, 255)
            pixels[..., 0], pixels[..., 1], pixels[..., 2] = level, 128, 255 - level
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            t = np.arange(round(rate * frames / fps)) / rate
            wave = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
            samples = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts, samples.time_base = rate, 0, Fraction(1, rate)
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
    return path


@pytest.fixture(scope="session")
def write_video():
    return _write


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("clips") / "clip.mp4")
