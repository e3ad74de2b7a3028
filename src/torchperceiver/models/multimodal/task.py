"""Multimodal autoencoding (paper §4.3): video + audio + label through a latent bottleneck.

Training decodes a random subset of pixels and audio patches each step (shared by the batch), so memory does
not grow with the clip; the label is masked with the preset's ``label_mask_prob`` (paper: half the time).
Loss per clip: ``video_weight·L1(video) + audio_weight·L1(audio) + label_weight·CE(label)`` (paper: 0.03, 1,
1e-4). Evaluation reconstructs every point (in chunks) and reports video and audio PSNR beside the per-clip
mean baseline's, and the label accuracy with the label masked (the preset's ``eval_label_mask_prob``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.multimodal.clips import BIGBUCKBUNNY, EvalClips, TrainClips, VideoFile, list_videos
from torchperceiver.models.multimodal.pictures import save_pictures
from torchperceiver.models.multimodal.quality import compression, mean_audio, mean_video, multimodal_configs, psnr
from torchperceiver.models.multimodal.reconstruct import reconstruct
from torchperceiver.models.multimodal.video import ClipFormat, write_clip
from torchperceiver.presets import ModelSection, build
from torchperceiver.training.task import Batch, TaskOutput, register_task

Metrics = dict[str, tuple[torch.Tensor, torch.Tensor]]


@dataclass
class MultimodalDataConfig:
    """Where clips come from. ``train``/``eval``: ``bigbuckbunny``, a video file, a CSV (``path,label`` or
    Kinetics' ``label,youtube_id,time_start,time_end``) or a folder with a subfolder per class; ``eval`` None:
    the training files. Windows (seconds ``[start, end]`` in every file) keep training and evaluation clips
    apart inside the same files. The clip size comes from the model (``num_frames``, ``image_size``,
    ``num_samples``); ``fps`` sets the clip's time span, so the sample rate is ``num_samples · fps / num_frames``.
    ``on_error``: a file that cannot be decoded, has no audio or is too short is logged and skipped, or fails
    the run. ``cache``: decode each file once and keep it in memory (small sets only; per DataLoader worker).
    """

    train: str = BIGBUCKBUNNY
    eval: str | None = None
    fps: float = 25.0
    train_window: tuple[float, float] | None = None
    eval_window: tuple[float, float] | None = None
    eval_clips_per_video: int = 1
    on_error: Literal["fail", "skip"] = "skip"
    cache: bool = False
    audio_gain: float = 1.0

    def __post_init__(self) -> None:
        for name in ("train_window", "eval_window"):
            window = getattr(self, name)
            if window is not None and not 0 <= window[0] < window[1]:
                raise ValueError(f"data.{name}: expected [start, end] seconds with 0 <= start < end, got {window}")
        if self.audio_gain <= 0:
            raise ValueError(f"data.audio_gain: expected > 0, got {self.audio_gain}")
        if self.eval_clips_per_video < 1:
            raise ValueError(f"data.eval_clips_per_video: expected a positive int, got {self.eval_clips_per_video}")


@dataclass
class MultimodalLossConfig:
    """Loss weights (paper: 0.03, 1, 1e-4) and the points decoded per training step (paper: 512 pixels and
    512 audio patches). ``eval_chunk_size``: output points decoded at once in evaluation.
    ``head_init_scale`` multiplies the video and audio heads' initial weights: the preset's init starts the
    outputs at a standard deviation near 1, far louder than most soundtracks.
    """

    video_weight: float = 0.03
    audio_weight: float = 1.0
    label_weight: float = 1e-4
    video_points: int = 512
    audio_points: int = 512
    eval_chunk_size: int = 16384
    head_init_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("video_points", "audio_points", "eval_chunk_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"loss.{name}: expected a positive int, got {getattr(self, name)}")
        for name in ("video_weight", "audio_weight", "label_weight", "head_init_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.{name}: expected >= 0, got {getattr(self, name)}")


def _clip_format(model: ModelSection, fps: float) -> ClipFormat:
    args = model.arguments()
    missing = [key for key in ("num_frames", "image_size", "num_samples", "num_classes") if key not in args]
    if missing:
        raise ValueError(f"model.preset: expected a multimodal autoencoder preset with {missing}, got {model.preset!r}")
    return ClipFormat(args["num_frames"], tuple(args["image_size"]), args["num_samples"], fps)


def _relabel(files: list[VideoFile], classes: tuple[str, ...], names: tuple[str, ...], source: str) -> list[VideoFile]:
    """Map ``files``' class ids (over ``classes``) onto the training classes ``names``."""
    if not classes or not names:
        return files
    unknown = sorted(set(classes) - set(names))
    if unknown:
        raise ValueError(f"data.eval: expected classes of data.train, got unknown {unknown[:5]} in {source!r}")
    return [VideoFile(f.path, names.index(classes[f.label])) for f in files]


@register_task
class MultimodalAutoencodingTask:
    name: ClassVar[str] = "multimodal-ae"
    default_preset: ClassVar[str] = "multimodal-ae"
    sections: ClassVar[dict[str, type]] = {"data": MultimodalDataConfig, "loss": MultimodalLossConfig}

    def __init__(
        self, model: ModelSection, data: MultimodalDataConfig, loss: MultimodalLossConfig, seed: int = 0
    ) -> None:
        self.model_cfg, self.data_cfg, self.loss_cfg, self.seed = model, data, loss, seed
        self.fmt = _clip_format(model, data.fps)
        self.num_classes = int(model.arguments()["num_classes"])
        self.train_files, self.classes = list_videos(data.train, "data.train")
        self.eval_files = self.train_files
        if data.eval is not None:
            files, classes = list_videos(data.eval, "data.eval")
            self.eval_files = _relabel(files, classes, self.classes, data.eval)
        top = max(f.label for f in self.train_files + self.eval_files)
        if top >= self.num_classes:
            raise ValueError(
                f"model.num_classes: expected more than the data's largest class id {top}, got {self.num_classes}"
            )
        self._train = TrainClips(
            self.train_files,
            self.fmt,
            seed=seed,
            window=data.train_window,
            on_error=data.on_error,
            cache=data.cache,
            audio_gain=data.audio_gain,
        )
        self._eval = EvalClips(
            self.eval_files,
            self.fmt,
            clips_per_video=data.eval_clips_per_video,
            window=data.eval_window,
            on_error=data.on_error,
            cache=data.cache,
            audio_gain=data.audio_gain,
        )

    def build_model(self) -> PerceiverIO:
        """The preset; the training classes become its label names when their number matches."""
        args = self.model_cfg.arguments()
        if not args.get("labels") and len(self.classes) == self.num_classes:
            args["labels"] = self.classes
        model = build(self.model_cfg.preset, **args)
        with torch.no_grad():
            for name in ("audio", "image"):
                for param in model.output_adapter.get_submodule(f"modalities.{name}.head").parameters():
                    param.mul_(self.loss_cfg.head_init_scale)
        return model

    def model_config(self, model: PerceiverIO) -> dict[str, Any]:
        return model.config.to_dict()

    def train_dataset(self) -> TrainClips:
        return self._train

    def eval_dataset(self) -> EvalClips:
        return self._eval

    def inputs(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The model's inputs: the clip and the label one-hot."""
        image = batch["image"]
        label = F.one_hot(batch["label"], self.num_classes).to(image.dtype)
        return {"audio": batch["audio"], "image": image, "label": label}

    def loss(self, model: nn.Module, batch: Batch) -> TaskOutput:
        inputs = self.inputs(batch)
        if model.training:
            outputs, video, audio, metrics = self._subsampled(model, inputs)
        else:
            outputs = reconstruct(_unwrap(model), inputs, chunk_size=self.loss_cfg.eval_chunk_size)
            video, audio = inputs["image"], inputs["audio"]
            metrics = _eval_metrics(outputs, inputs)
        video_l1 = (outputs["image"].float() - video.float()).abs().flatten(1).mean(1)
        audio_l1 = (outputs["audio"].float() - audio.float()).abs().flatten(1).mean(1)
        label_ce = F.cross_entropy(outputs["label"].float(), batch["label"], reduction="none")
        cfg = self.loss_cfg
        per_clip = cfg.video_weight * video_l1 + cfg.audio_weight * audio_l1 + cfg.label_weight * label_ce
        count = torch.tensor(float(len(per_clip)), device=per_clip.device)
        metrics.update(
            {
                "video_l1": (video_l1.sum().detach(), count),
                "audio_l1": (audio_l1.sum().detach(), count),
                "label_ce": (label_ce.sum().detach(), count),
            }
        )
        return TaskOutput(per_clip.sum(), count, metrics)

    def _subsampled(
        self, model: nn.Module, inputs: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, Metrics]:
        """Decode ``video_points`` random pixels and ``audio_points`` random audio patches of the batch."""
        image, audio = inputs["image"], inputs["audio"]
        frames, _, height, width = image.shape[1:]
        patch = multimodal_configs(_unwrap(model))[0].modalities["audio"].samples_per_patch  # type: ignore[attr-defined]
        pixels = _random_points(frames * height * width, self.loss_cfg.video_points, image.device)
        patches = _random_points(audio.shape[1] // patch, self.loss_cfg.audio_points, image.device)
        outputs = model(inputs, subsampled_points={"image": pixels, "audio": patches})
        video = image.permute(0, 1, 3, 4, 2).flatten(1, 3)[:, pixels]
        audio = audio.unflatten(1, (-1, patch))[:, patches].flatten(1)
        return outputs, video, audio, {}

    def demo(self, model: nn.Module) -> str:
        """The first evaluation clip: PSNRs against the baseline's, and the compression ratio."""
        outputs, inputs = self._first_reconstruction(model)
        metrics = _eval_metrics(outputs, inputs)
        values = {name: (total / count).item() for name, (total, count) in metrics.items()}
        return "\n".join(
            [
                f"clip: {self.eval_files[0].path.name}, {self.fmt.num_frames} frames "
                f"{self.fmt.image_size[0]}×{self.fmt.image_size[1]} at {self.fmt.fps:g} fps, "
                f"{self.fmt.num_samples} samples at {self.fmt.sample_rate} Hz",
                f"video PSNR {values['video_psnr']:.2f} dB (per-clip mean: {values['baseline_video_psnr']:.2f} dB)",
                f"audio PSNR {values['audio_psnr']:.2f} dB (per-clip mean: {values['baseline_audio_psnr']:.2f} dB)",
                compression(_unwrap(model), inputs).describe(),
            ]
        )

    def finish(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """The first evaluation clip and its reconstruction: mp4 (video + audio), frames PNG, audio PNG."""
        outputs, inputs = self._first_reconstruction(model)
        video, audio = outputs["image"][0].float().cpu(), outputs["audio"][0].float().cpu()
        out = run_dir / "reconstruction"
        out.mkdir(parents=True, exist_ok=True)
        level = audio / self.data_cfg.audio_gain  # the mp4 at the source's loudness
        clip = write_clip(out / "recon.mp4", video, level, self.fmt.fps, self.fmt.sample_rate)
        pictures = save_pictures(
            out / "recon", inputs["image"][0].cpu(), video, inputs["audio"][0].cpu(), audio, self.fmt.sample_rate
        )
        return [clip, *pictures]

    @torch.no_grad()
    def _first_reconstruction(self, model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The model's outputs for the first evaluation clip, and its inputs (a batch of one)."""
        net = _unwrap(model)
        device = next(net.parameters()).device
        clip = {k: v[None].to(device) for k, v in self._eval[0].items()}
        inputs = self.inputs(clip)
        was_training = net.training
        net.eval()
        try:
            outputs = reconstruct(net, inputs, chunk_size=self.loss_cfg.eval_chunk_size)
        finally:
            net.train(was_training)
        return outputs, inputs


def _random_points(total: int, count: int, device: torch.device) -> torch.Tensor:
    return torch.randperm(total, device=device)[: min(count, total)]


def _unwrap(model: nn.Module) -> PerceiverIO:
    """The PerceiverIO inside a DDP wrapper (FSDP2 keeps the module itself)."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, PerceiverIO)
    return inner


def _eval_metrics(outputs: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor]) -> Metrics:
    video, audio, label = inputs["image"], inputs["audio"], inputs["label"].argmax(-1)
    count = torch.tensor(float(len(video)), device=video.device)
    correct = (outputs["label"].argmax(-1) == label).sum().float()
    return {
        "video_psnr": (psnr(outputs["image"], video).sum(), count),
        "audio_psnr": (psnr(outputs["audio"], audio).sum(), count),
        "baseline_video_psnr": (psnr(mean_video(video), video).sum(), count),
        "baseline_audio_psnr": (psnr(mean_audio(audio), audio).sum(), count),
        "label_accuracy": (correct, count),
    }
