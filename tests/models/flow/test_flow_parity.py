"""Optical flow: parity with HF's PerceiverForOpticalFlow (needs transformers)."""

import time

import pytest
import torch
from torch import nn

import torchperceiver as tp
from hf_utils import TOLERANCE, max_abs_diff, randomize, transformers

TRAIN = (16, 24)
SMALL = dict(
    num_latents=16,
    d_latents=32,
    num_blocks=1,
    num_self_attends_per_block=2,
    num_self_attention_heads=4,
    num_cross_attention_heads=1,
    train_size=list(TRAIN),
)


def _frames(batch: int, height: int, width: int) -> torch.Tensor:
    return torch.rand(batch, 2, 3, height, width) * 2 - 1


def _hf_patches(frames: torch.Tensor) -> torch.Tensor:
    """``[B, 2, 3, H, W]`` → HF's ``[B, 2, 27, H, W]``: 3×3 zero-padded neighbourhoods, ordered (row, column,
    colour) as the official ``patches_for_flow`` (TF ``extract_patches``) orders them."""
    height, width = frames.shape[-2:]
    padded = nn.functional.pad(frames, (1, 1, 1, 1))
    shifts = [padded[..., dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
    return torch.stack(shifts, dim=2).flatten(2, 3)


def _hf_flow(**config) -> nn.Module:
    hf = randomize(transformers.PerceiverForOpticalFlow(transformers.PerceiverConfig(**config)))
    with torch.no_grad():  # flow in pixels O(1): HF's output (head / 100) × 20 = head / 5
        hf.perceiver.decoder.decoder.final_layer.weight.mul_(5)
        hf.perceiver.decoder.decoder.final_layer.bias.mul_(5)
    return hf


def _parity(hf: nn.Module, ours: nn.Module, frames: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Max abs difference between our flow and HF's output × 20 (both in pixels), and our flow."""
    with torch.no_grad():
        expected = hf(inputs=_hf_patches(frames)).logits.permute(0, 3, 1, 2) * 20
        got = ours(frames)
    return max_abs_diff(got, expected), got


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),
        dict(num_cross_attention_heads=2, qk_channels=64, v_channels=32, hidden_act="gelu_new"),
        dict(num_blocks=2, self_attention_widening_factor=2, cross_attention_widening_factor=3),
    ],
)
def test_optical_flow_small(overrides):
    hf = _hf_flow(**{**SMALL, **overrides})
    ours = tp.from_transformers(hf)
    ours.decoder.chunk_size = 100  # 384 queries: 4 chunks
    diff, got = _parity(hf, ours, _frames(2, *TRAIN))
    assert 0.1 < got.std() < 10  # the compared flow is O(1) pixels
    assert diff <= TOLERANCE


def test_converted_model_reads_frames_and_returns_pixels():
    ours = tp.from_transformers(_hf_flow(**SMALL))
    assert ours.config.output_adapter.pixel_scale == pytest.approx(0.2)
    frames = _frames(1, *TRAIN)
    with torch.no_grad():
        swapped = ours(frames.flip(1))  # the frame order matters: flow 1→2 is not flow 2→1
        assert max_abs_diff(swapped, ours(frames)) > 100 * TOLERANCE


@pytest.mark.slow
def test_optical_flow_real_shapes():
    """deepmind/optical-flow-perceiver's shapes at 368×496, batch 1 (HF builds the full score matrices)."""
    hf = _hf_flow(
        num_latents=2048,
        d_latents=512,
        num_blocks=1,
        num_self_attends_per_block=24,
        num_self_attention_heads=16,
        num_cross_attention_heads=1,
    )
    ours = tp.from_transformers(hf)
    with torch.device("meta"):  # shapes only
        preset = tp.build("optical-flow", activation="gelu")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in preset.state_dict().items()}
    for field in ("num_heads", "widening_factor", "query_residual", "chunk_size"):
        assert getattr(ours.config.decoder, field) == getattr(preset.config.decoder, field), field
    start = time.perf_counter()
    diff, got = _parity(hf, ours, _frames(1, 368, 496))
    print(
        f"real-shape flow parity: max abs diff {diff:.2e} px, flow std {got.std():.2f} px, "
        f"{time.perf_counter() - start:.1f} s for both forward passes"
    )
    assert diff <= TOLERANCE
