"""Where latents look: the input cross-attention of any image model, computed explicitly for a plot.

Training and inference run attention through fused SDPA and never form the ``[latents × positions]``
weights. For a picture, a pre-forward hook on the encoder's first cross-attention records its (normalised)
inputs during one ``encode``; the softmax weights are then recomputed from the layer's own projections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch

from torchperceiver.core.layers import CrossAttentionLayer
from torchperceiver.core.model import PerceiverIO


@torch.no_grad()
def cross_attention_maps(
    model: PerceiverIO, images: torch.Tensor, latents: Sequence[int] | None = None
) -> torch.Tensor:
    """``[B, heads, L, h, w]``: the first cross-attention's weights of ``latents`` (None: all) over the image's
    ``h × w`` input grid (each row sums to 1 over the grid)."""
    layer = cast(CrossAttentionLayer, model.encoder.cross_attends[0])
    seen: dict[str, Any] = {}

    def record(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        if not seen:  # the first call: block 0 (later blocks may share the layer)
            seen["q"], seen["kv"] = args[0], args[1]
            seen["mask"] = args[2] if len(args) > 2 else None

    handle = layer.attn.register_forward_pre_hook(record)
    try:
        encoding = model.encode(images)
    finally:
        handle.remove()
    grid = getattr(encoding.context, "grid", None)
    if grid is None:
        raise ValueError(
            f"model: expected an image input adapter (with a grid), got {type(model.input_adapter).__name__}"
        )
    x_q = seen["q"]
    if latents is not None:
        count = x_q.shape[1]
        bad = [i for i in latents if not 0 <= i < count]
        if bad:
            raise ValueError(f"latents: expected indices in [0, {count}), got {bad}")
        x_q = x_q[:, list(latents)]
    return _weights(layer.attn, x_q, seen["kv"], seen["mask"]).unflatten(-1, grid)


def _weights(attn: Any, x_q: torch.Tensor, x_kv: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``softmax(q kᵀ / sqrt(d))`` per head, ``[B, heads, N, M]``, from the layer's unpadded projections."""
    heads = attn.num_heads
    q = attn.query(x_q.float()).unflatten(-1, (heads, attn.qk_head_dim)).transpose(1, 2)
    k = attn.key(x_kv.float()).unflatten(-1, (heads, attn.qk_head_dim)).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(attn.qk_head_dim)
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return scores.softmax(-1)


def default_latents(num_latents: int, count: int = 8) -> list[int]:
    """``count`` latents spread evenly over the array (the first and last included)."""
    count = min(count, num_latents)
    if count == 1:
        return [0]
    return sorted({round(i * (num_latents - 1) / (count - 1)) for i in range(count)})
