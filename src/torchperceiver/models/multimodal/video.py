"""Reading and writing video files with audio (PyAV, the ``video`` extra).

A clip is ``num_frames`` frames at ``fps`` and the audio under them at ``sample_rate`` (mono): the paper's is
16 frames at 25 fps, 224×224, 30,720 samples at 48 kHz (1,920 per frame). Frames are resized so they cover
the target size (aspect ratio kept) and centre-cropped; pixels are scaled to [-1, 1]. Audio is downmixed and
resampled by FFmpeg (``AudioResampler``, its standard matrix: stereo → (L + R) / √2) and kept as float samples,
clipped to [-1, 1]. A file is resampled in time by
taking, for each frame of the clip, the last decoded frame shown at or before it, so any frame rate reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


class ClipError(ValueError):
    """A file that cannot give a clip (undecodable, no audio or video stream, too short); names the path."""


@dataclass(frozen=True)
class ClipFormat:
    """What one clip is: ``num_frames`` frames of ``image_size`` (height, width) at ``fps``, and
    ``num_samples`` audio samples over the same time (``sample_rate = num_samples · fps / num_frames``)."""

    num_frames: int = 16
    image_size: tuple[int, int] = (224, 224)
    num_samples: int = 30720
    fps: float = 25.0

    def __post_init__(self) -> None:
        if self.num_frames < 1 or min(self.image_size) < 1 or self.num_samples < 1 or self.fps <= 0:
            raise ValueError(f"clip format: expected positive sizes and fps, got {self}")
        rate = self.num_samples * self.fps / self.num_frames
        if abs(rate - round(rate)) > 1e-6:
            raise ValueError(
                f"num_samples: expected num_samples · fps / num_frames to be a whole sample rate, got {rate:g} Hz"
            )

    @property
    def sample_rate(self) -> int:
        return round(self.num_samples * self.fps / self.num_frames)

    @property
    def duration(self) -> float:
        """Seconds covered by one clip."""
        return self.num_frames / self.fps


@dataclass
class Decoded:
    """A stretch of a file at the clip's size and rate: ``frames [N, 3, H, W]`` uint8 shown at ``times``
    (seconds), and ``audio [S]`` float32 whose first sample plays at ``audio_start`` seconds."""

    frames: torch.Tensor
    times: np.ndarray
    audio: np.ndarray
    audio_start: float
    duration: float


def _av() -> Any:
    try:
        import av
    except ImportError as err:  # pragma: no cover - the extra is installed in development
        raise ImportError("reading and writing video needs PyAV: pip install 'torchperceiver[video]'") from err
    return av


def resize_cover(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[N, C, h, w]`` uint8 → ``[N, C, H, W]`` uint8: scaled (antialiased) to cover ``size``, centre-cropped."""
    height, width = size
    h, w = frames.shape[-2:]
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    x = frames.float()
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return x[..., top : top + height, left : left + width].round().clamp(0, 255).to(torch.uint8)


def _open(path: Path) -> Any:
    av = _av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise ClipError(f"{path}: cannot be decoded ({_first_line(err)})") from err
    if not container.streams.video:
        container.close()
        raise ClipError(f"{path}: has no video stream")
    if not container.streams.audio:
        container.close()
        raise ClipError(f"{path}: has no audio stream")
    return container


def _duration(container: Any) -> float:
    """Seconds both streams cover (stream durations where known, else the container's)."""
    lengths = []
    for stream in (container.streams.video[0], container.streams.audio[0]):
        if stream.duration is not None and stream.time_base is not None:
            lengths.append(float(stream.duration * stream.time_base))
    if not lengths and container.duration is not None:
        lengths.append(container.duration / 1_000_000)
    return min(lengths) if lengths else math.inf


def _seek(container: Any, stream: Any, seconds: float) -> None:
    """Go to the keyframe at or before ``seconds`` (always: the other stream may have been read to the end)."""
    if stream.time_base is not None:
        container.seek(int(max(seconds, 0.0) / stream.time_base), stream=stream, backward=True, any_frame=False)


def _decode_frames(container: Any, fmt: ClipFormat, start: float, end: float) -> tuple[torch.Tensor, np.ndarray]:
    """Frames shown from ``start`` to ``end``, the one on screen at ``start`` first."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    _seek(container, stream, start)
    frames: list[torch.Tensor] = []
    times: list[float] = []
    pending = None

    def keep(frame: Any, time: float) -> None:
        rgb = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None]
        frames.append(resize_cover(rgb, fmt.image_size)[0])
        times.append(time)

    for frame in container.decode(stream):
        time = frame.time if frame.time is not None else len(times) / fmt.fps
        if time > end:
            break
        if time <= start + 1e-4:
            pending = (frame, time)
            continue
        if pending is not None:
            keep(*pending)
            pending = None
        if not times or time > times[-1]:
            keep(frame, time)
    if pending is not None:
        keep(*pending)
    if not frames:
        return torch.empty(0, 3, *fmt.image_size, dtype=torch.uint8), np.empty(0)
    return torch.stack(frames), np.asarray(times)


def _decode_audio(container: Any, fmt: ClipFormat, start: float, end: float) -> tuple[np.ndarray, float]:
    av = _av()
    stream = container.streams.audio[0]
    _seek(container, stream, start)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=fmt.sample_rate)
    chunks: list[np.ndarray] = []
    first: float | None = None
    for frame in container.decode(stream):
        if first is None:
            first = frame.time if frame.time is not None else 0.0
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        if frame.time is not None and frame.time > end:
            break
    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.empty(0, np.float32)
    return audio, first or 0.0


def decode(path: str | Path, fmt: ClipFormat, start: float = 0.0, end: float = math.inf) -> Decoded:
    """Frames and audio of ``path`` between ``start`` and ``end`` seconds, at ``fmt``'s size and rate."""
    av = _av()
    path = Path(path)
    container = _open(path)
    try:
        duration = _duration(container)
        margin = 2 / fmt.fps
        frames, times = _decode_frames(container, fmt, start, end + margin)
        audio, audio_start = _decode_audio(container, fmt, start, end + margin)
    except av.error.FFmpegError as err:
        raise ClipError(f"{path}: cannot be decoded ({_first_line(err)})") from err
    finally:
        container.close()
    if not len(times):
        raise ClipError(f"{path}: no video frames decoded after {start:g} s")
    if not len(audio):
        raise ClipError(f"{path}: no audio samples decoded after {start:g} s")
    covered = min(times[-1] + 1 / fmt.fps, audio_start + len(audio) / fmt.sample_rate)
    return Decoded(frames, times, audio, audio_start, min(duration, covered))


def clip_starts(duration: float, fmt: ClipFormat, count: int, window: tuple[float, float] | None = None) -> list[float]:
    """``count`` clip starts evenly spread over ``window`` (default: the whole file); one clip: the middle."""
    low, high = window if window is not None else (0.0, duration)
    high = min(high, duration)
    room = high - low - fmt.duration
    if room < -1e-6:
        return []
    if count == 1:
        return [low + max(room, 0.0) / 2]
    return [low + max(room, 0.0) * k / (count - 1) for k in range(count)]


def cut(decoded: Decoded, fmt: ClipFormat, start: float, path: str | Path = "clip") -> dict[str, torch.Tensor]:
    """The clip starting at ``start`` seconds: ``{"image": [T, 3, H, W] in [-1, 1], "audio": [S]}``."""
    if start + fmt.duration > decoded.duration + 1e-6 or start < 0:
        raise ClipError(
            f"{path}: too short: a clip of {fmt.duration:g} s from {start:g} s needs {start + fmt.duration:g} s, "
            f"the file has {decoded.duration:g} s"
        )
    targets = start + np.arange(fmt.num_frames) / fmt.fps
    index = np.clip(np.searchsorted(decoded.times, targets + 1e-4, side="right") - 1, 0, len(decoded.times) - 1)
    image = decoded.frames[torch.from_numpy(index)].float() / 127.5 - 1
    first = round((start - decoded.audio_start) * fmt.sample_rate)
    audio = decoded.audio[max(first, 0) : max(first, 0) + fmt.num_samples]
    if first < 0:
        audio = np.concatenate([np.zeros(-first, np.float32), audio])[: fmt.num_samples]
    if len(audio) < fmt.num_samples:
        audio = np.pad(audio, (0, fmt.num_samples - len(audio)))  # the resampler's last few samples
    return {"image": image, "audio": torch.from_numpy(np.ascontiguousarray(audio)).clamp(-1, 1)}


def read_clip(path: str | Path, fmt: ClipFormat, start: float = 0.0) -> dict[str, torch.Tensor]:
    """One clip of ``path`` from ``start`` seconds, decoding only the stretch it needs."""
    decoded = decode(path, fmt, start, start + fmt.duration)
    return cut(decoded, fmt, start, path)


def probe_duration(path: str | Path) -> float:
    """Seconds of ``path`` with both video and audio (from the headers; ``inf`` when they do not say)."""
    container = _open(Path(path))
    try:
        return _duration(container)
    finally:
        container.close()


def write_clip(path: str | Path, image: torch.Tensor, audio: torch.Tensor, fps: float, sample_rate: int) -> Path:
    """Write ``image [T, 3, H, W]`` in [-1, 1] and mono ``audio [S]`` in [-1, 1] as an H.264 + AAC mp4."""
    av = _av()
    path = Path(path)
    frames = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    height, width = frames.shape[1:3]
    # yuv420p needs even sizes: repeat the last row / column where one is odd
    padded = F.pad(frames.permute(0, 3, 1, 2).float(), (0, width % 2, 0, height % 2), mode="replicate")
    pictures = padded.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = pictures.shape[2], pictures.shape[1], "yuv420p"
        video.options = {"crf": "12"}
        rate = _aac_rate(av, sample_rate)
        sound = container.add_stream("aac", rate=rate)
        sound.layout = "mono"
        for array in pictures:
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")))
        container.mux(video.encode(None))
        samples = audio.detach().float().clamp(-1, 1).cpu().numpy().reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)  # a pts lets the
        # muxer mark the encoder's priming samples as skipped, so the audio starts in step with the video
        parts = [frame]
        if rate != sample_rate:
            resampler = av.AudioResampler("flt", "mono", rate)
            parts = resampler.resample(frame) + resampler.resample(None)  # None: flush its delay line
        for part in parts:
            container.mux(sound.encode(part))
        container.mux(sound.encode(None))
    return path


def _aac_rate(av: Any, sample_rate: int) -> int:
    """The rate the mp4's AAC stream gets: ``sample_rate`` where AAC has it, else the lowest multiple of it that
    AAC has (4 kHz → 8 kHz), else the lowest higher rate."""
    rates = sorted(av.codec.Codec("aac", "w").audio_rates or [sample_rate])
    higher = [rate for rate in rates if rate >= sample_rate] or rates[-1:]
    return next((rate for rate in higher if rate % sample_rate == 0), higher[0])


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
