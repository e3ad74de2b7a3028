"""One entry per preset: the HF model at a given config, its ``from_transformers`` copy, inputs and a loss.

Sizes: ``full`` is the released architecture at the batch of the issue's HF baseline (a GPU), ``cpu`` keeps
every width of the released model but fewer layers and a small batch (a CPU step in seconds), ``tiny`` is
a smoke-test size. Each entry states what it reduced in ``Case.shapes``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

import torchperceiver as tp
from torchperceiver.adapters.text import labelled_positions
from torchperceiver.convert.hf import HF_CONVERTERS
from torchperceiver.tokenizer import MASK

Size = Literal["full", "cpu", "tiny"]
Mode = Literal["train", "infer"]
Inputs = dict[str, Any]
HF = "hf-transformers"
OURS = "torchperceiver"
LUCIDRAINS = "perceiver-pytorch"
IGNORE_INDEX = -100
#: The paper trains without dropout (and torchperceiver's presets have none); HF's configs default to 0.1.
NO_DROPOUT = dict(attention_probs_dropout_prob=0.0)


class Unavailable(Exception):
    """The entry cannot run here (a converter or an optional package is missing)."""


@dataclass
class Impl:
    """A model and how to call it on the case's inputs. ``same_model``: the HF config and weights (its
    outputs are compared with HF's). FLOPs are counted on a meta copy of the model, or, with ``flops_like``,
    taken from the named implementation that does the same work (HF cannot run on meta tensors)."""

    model: nn.Module
    forward: Callable[[nn.Module, Inputs], torch.Tensor]
    same_model: bool = True
    note: str = ""
    modes: tuple[Mode, ...] = ("train", "infer")
    flops_like: str | None = None  # the implementation doing the same work, counted for this one (HF: no meta)


@dataclass
class Case:
    preset: str
    shapes: str
    impls: dict[str, Impl]
    inputs: Inputs
    loss: Callable[[torch.Tensor, Inputs], torch.Tensor]
    modes: tuple[Mode, ...] = ("train", "infer")
    diffs: dict[str, float] = field(default_factory=dict)  # filled by compare.prepare
    flops: dict[str, dict[str, int]] = field(default_factory=dict)  # mode -> impl -> FLOPs


def transformers_module() -> Any:
    try:
        import transformers
    except ImportError as err:
        raise Unavailable("transformers is not installed (pip install -e '.[bench]')") from err
    return transformers


def convert(hf_model: nn.Module) -> nn.Module:
    name = type(hf_model).__name__
    if name not in HF_CONVERTERS:
        raise Unavailable(f"from_transformers cannot convert {name} yet")
    return tp.from_transformers(hf_model)


def _pick(size: Size, full: Any, cpu: Any, tiny: Any) -> Any:
    return {"full": full, "cpu": cpu, "tiny": tiny}[size]


def language_mlm(size: Size) -> Case:
    """Byte-level MLM (256 × 1280 latents, 26 layers, 2048 bytes), 15 % of the bytes masked; loss = cross-entropy
    at the masked bytes. HF decodes every byte (its MLM head has no other way); torchperceiver decodes the
    masked bytes only in training (the MLM task's default), and all of them in the "full decode" row."""
    transformers = transformers_module()
    layers, batch, seq_len = _pick(size, (26, 32, 2048), (4, 1, 512), (2, 2, 64))
    widths = dict(qk_channels=256, v_channels=1280)
    if size == "tiny":
        widths = dict(num_latents=16, d_latents=64, d_model=32, qk_channels=32, v_channels=64)
    config = transformers.PerceiverConfig(
        num_self_attends_per_block=layers, max_position_embeddings=seq_len, **widths, **NO_DROPOUT
    )
    hf = transformers.PerceiverForMaskedLM(config)
    ours = convert(hf)
    full = OURS + " (full decode)"
    impls = {
        HF: Impl(hf, lambda m, x: m(inputs=x["ids"]).logits, flops_like=full),
        OURS: Impl(ours, _masked_decode),
        full: Impl(ours, lambda m, x: m(x["ids"]), modes=("train",)),
    }
    lucid = _lucidrains_lm(config)
    if lucid is not None:
        impls[LUCIDRAINS] = lucid
    reduced = "" if size == "full" else f" ({layers} of 26 self-attention layers)"
    ids = torch.randint(6, config.vocab_size, (batch, seq_len))
    masked = torch.rand(batch, seq_len) < 0.15
    masked[:, 0] = True  # at least one target per row
    return Case(
        preset="language-mlm",
        shapes=f"batch {batch} × {seq_len} bytes (15 % masked), latents {config.num_latents} × {config.d_latents}"
        f"{reduced}",
        impls=impls,
        inputs={
            "ids": ids.masked_fill(masked, MASK),
            "labels": ids.masked_fill(~masked, IGNORE_INDEX),
            "max_masked": int(masked.sum(dim=1).max()),  # K read on the host with the batch: no device sync
        },
        loss=_mlm_loss,
    )


def _masked_decode(model: nn.Module, x: Inputs) -> torch.Tensor:
    """What the MLM task does in training: find the masked positions, decode only those (all in eval)."""
    if not model.training:
        return model(x["ids"])
    positions, _ = labelled_positions(x["labels"], IGNORE_INDEX, x["max_masked"])
    return model(x["ids"], positions=positions)


def _mlm_loss(logits: torch.Tensor, x: Inputs) -> torch.Tensor:
    labels = x["labels"]
    if logits.shape[1] != labels.shape[1]:  # decoded at the masked positions only
        _, labels = labelled_positions(labels, IGNORE_INDEX, x["max_masked"])
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX)


def _lucidrains_lm(config: Any) -> Impl | None:
    """lucidrains' PerceiverLM at the closest shapes it allows (it cannot express the released model)."""
    try:
        from perceiver_pytorch.perceiver_io import PerceiverLM
    except ImportError:
        return None
    heads = config.num_self_attention_heads
    model = PerceiverLM(
        dim=config.d_model,
        num_tokens=config.vocab_size,
        max_seq_len=config.max_position_embeddings,
        depth=config.num_self_attends_per_block,
        num_latents=config.num_latents,
        latent_dim=config.d_latents,
        cross_heads=config.num_cross_attention_heads,
        latent_heads=heads,
        cross_dim_head=config.qk_channels // config.num_cross_attention_heads,
        latent_dim_head=config.qk_channels // heads,
    )
    note = "closest shapes, not the same model: 4× GEGLU MLPs, v width = qk width, untied logits"
    return Impl(model, lambda m, x: m(x["ids"]), same_model=False, note=note)


def _vision(size: Size, hf_class: str, preset: str) -> Case:
    """ImageNet classifier (512 × 1024 latents, 8 blocks × 6 shared layers, 224²); loss = cross-entropy."""
    transformers = transformers_module()
    blocks, layers, batch, image = _pick(size, (8, 6, 16, 224), (1, 2, 2, 64), (1, 1, 2, 16))
    widths = dict(num_latents=512, d_latents=1024) if size != "tiny" else dict(num_latents=16, d_latents=64)
    config = transformers.PerceiverConfig(
        num_blocks=blocks,
        num_self_attends_per_block=layers,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        num_labels=1000,
        image_size=image,
        **widths,
        **NO_DROPOUT,
    )
    hf = getattr(transformers, hf_class)(config)
    reduced = "" if size == "full" else f" ({blocks} × {layers} of 8 × 6 layers)"
    return Case(
        preset=preset,
        shapes=f"batch {batch} × {image}², latents {config.num_latents} × {config.d_latents}{reduced}",
        impls={
            HF: Impl(hf, lambda m, x: m(inputs=x["images"]).logits, flops_like=OURS),
            OURS: Impl(convert(hf), lambda m, x: m(x["images"])),
        },
        inputs={"images": torch.randn(batch, 3, image, image), "labels": torch.randint(1000, (batch,))},
        loss=lambda logits, x: F.cross_entropy(logits.float(), x["labels"]),
    )


def vision_fourier(size: Size) -> Case:
    return _vision(size, "PerceiverForImageClassificationFourier", "vision-fourier")


def vision_conv(size: Size) -> Case:
    return _vision(size, "PerceiverForImageClassificationConvProcessing", "vision-conv")


def hf_flow_patches(frames: torch.Tensor) -> torch.Tensor:
    """``[B, 2, 3, H, W]`` → HF's input ``[B, 2, 27, H, W]``: the 3×3 neighbourhoods HF expects its callers to
    cut (row, column, colour order); part of HF's timed call, as every HF user has to do it."""
    height, width = frames.shape[-2:]
    padded = F.pad(frames, (1, 1, 1, 1))
    shifts = [padded[..., dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
    return torch.stack(shifts, dim=2).flatten(2, 3)


class HFFlowInPixels(nn.Module):
    """HF's flow model with our calling convention: frames in, flow in pixels ``[B, 2, H, W]`` out."""

    def __init__(self, hf: nn.Module) -> None:
        super().__init__()
        self.hf = hf

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.hf(inputs=hf_flow_patches(frames)).logits.permute(0, 3, 1, 2) * 20


def _flow_models(size: Size, cpu_size: tuple[int, int]) -> tuple[nn.Module, nn.Module, tuple[int, int], str]:
    transformers = transformers_module()
    layers, train_size = _pick(size, (24, (368, 496)), (2, cpu_size), (1, (12, 16)))
    widths = dict(num_latents=2048, d_latents=512) if size != "tiny" else dict(num_latents=16, d_latents=32)
    config = transformers.PerceiverConfig(
        num_blocks=1,
        num_self_attends_per_block=layers,
        num_self_attention_heads=16 if size != "tiny" else 4,
        num_cross_attention_heads=1,
        train_size=list(train_size),
        **widths,
        **NO_DROPOUT,
    )
    hf = transformers.PerceiverForOpticalFlow(config)
    reduced = "" if size == "full" else f" ({layers} of 24 layers)"
    return HFFlowInPixels(hf), convert(hf), train_size, f"latents {config.num_latents} × {config.d_latents}{reduced}"


def _flow_loss(flow: torch.Tensor, x: Inputs) -> torch.Tensor:
    return (flow.float() - x["flow"]).norm(dim=1).mean()  # end-point error


def optical_flow(size: Size) -> Case:
    """Flow at the training size (368×496: 182,528 input positions and queries), batch 1."""
    hf, ours, (height, width), model = _flow_models(size, cpu_size=(64, 96))
    return Case(
        preset="optical-flow",
        shapes=f"batch 1 × {height}×{width}, {model}",
        impls={
            HF: Impl(hf, lambda m, x: m(x["frames"]), flops_like=OURS),
            OURS: Impl(ours, lambda m, x: m(x["frames"])),
        },
        inputs={"frames": torch.rand(1, 2, 3, height, width) * 2 - 1, "flow": torch.randn(1, 2, height, width)},
        loss=_flow_loss,
    )


def optical_flow_tiled(size: Size) -> Case:
    """A Sintel frame (1024×436; at the reduced sizes, the same tiling of a smaller frame) by ``predict_flow``'s
    overlapping tiles, for both models: 6 tiles of the training size, one tile per call (HF's memory would
    not hold a batch of them), and for torchperceiver also all 6 in one batch."""
    from torchperceiver.models.flow.tiling import predict_flow

    hf, ours, tile, model = _flow_models(size, cpu_size=(32, 48))
    frame = _pick(size, (436, 1024), (38, 99), (14, 36))
    tiles = dict(tile_size=tile, min_overlap=_pick(size, 20, 20, 2))

    def tiled(batch: int) -> Callable[[nn.Module, Inputs], torch.Tensor]:
        return lambda m, x: predict_flow(m, x["frame1"], x["frame2"], tile_batch=batch, **tiles)

    return Case(
        preset="optical-flow (tiled)",
        shapes=f"1 frame pair {frame[0]}×{frame[1]} in 6 tiles of {tile[0]}×{tile[1]}, {model}",
        impls={
            HF: Impl(hf, tiled(1), flops_like=OURS),
            OURS: Impl(ours, tiled(1)),
            OURS + " (6 tiles / call)": Impl(ours, tiled(6), flops_like=OURS),
        },
        inputs={"frame1": torch.rand(1, 3, *frame) * 2 - 1, "frame2": torch.rand(1, 3, *frame) * 2 - 1},
        loss=_flow_loss,
        modes=("infer",),
    )


def multimodal_ae(size: Size) -> Case:
    """Kinetics autoencoder (784 × 512 latents; 16 × 224² video, 30,720 audio samples, 700 classes). Training
    decodes the paper's subset (512 pixels, 512 audio patches, the label); inference decodes everything."""
    transformers = transformers_module()
    layers, frames, image, classes = _pick(size, (8, 16, 224, 700), (2, 16, 64, 700), (1, 2, 16, 10))
    widths = dict(num_latents=784, d_latents=512) if size != "tiny" else dict(num_latents=16, d_latents=64)
    config = transformers.PerceiverConfig(
        num_blocks=1,
        num_self_attends_per_block=layers,
        num_self_attention_heads=8,
        num_cross_attention_heads=1,
        d_model=704,
        num_labels=classes,
        num_frames=frames,
        image_size=image // 4,
        output_shape=[1, frames, image, image],
        **widths,
        **NO_DROPOUT,
    )
    hf = transformers.PerceiverForMultimodalAutoencoding(config)
    samples = frames * config.audio_samples_per_frame
    points = {
        "image": torch.randperm(frames * image * image)[:512],
        "audio": torch.randperm(samples // config.samples_per_patch)[:512],
    }

    def hf_forward(m: nn.Module, x: Inputs) -> torch.Tensor:
        chosen = x["points"] if m.training else x["all_points"]  # HF's full decode: every point, in order
        inputs = {"audio": x["audio"][..., None], "image": x["image"], "label": x["label"]}
        out = m(inputs=inputs, subsampled_output_points={**chosen, "label": None}).logits
        return torch.cat([out["audio"].flatten(1), out["image"].flatten(1), out["label"]], dim=1)

    def our_forward(m: nn.Module, x: Inputs) -> torch.Tensor:
        inputs = {"audio": x["audio"], "image": x["image"], "label": x["label"]}
        out = m(inputs, subsampled_points=x["points"] if m.training else None)
        image_out = out["image"] if m.training else out["image"].permute(0, 1, 3, 4, 2)  # HF's channel-last order
        return torch.cat([out["audio"].flatten(1), image_out.flatten(1), out["label"]], dim=1)

    reduced = "" if size == "full" else f" ({layers} of 8 layers)"
    return Case(
        preset="multimodal-ae",
        shapes=f"batch 1 × {frames} × {image}² video + {samples} audio samples{reduced}",
        impls={HF: Impl(hf, hf_forward, flops_like=OURS), OURS: Impl(convert(hf), our_forward)},
        inputs={
            "audio": torch.randn(1, samples),
            "image": torch.randn(1, frames, 3, image, image),
            "label": F.one_hot(torch.randint(classes, (1,)), classes).float(),
            "points": points,
            "all_points": {"image": torch.arange(frames * image * image), "audio": torch.arange(samples // 16)},
        },
        loss=lambda out, x: out.float().abs().mean(),
    )


ENTRIES: dict[str, Callable[[Size], Case]] = {
    "language-mlm": language_mlm,
    "vision-fourier": vision_fourier,
    "vision-conv": vision_conv,
    "optical-flow": optical_flow,
    "optical-flow-tiled": optical_flow_tiled,
    "multimodal-ae": multimodal_ae,
}
