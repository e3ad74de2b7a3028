"""Full multimodal reconstruction with bounded memory: encode once, decode the output points in chunks.

Decoding every point of the released model at once needs 804,737 queries of 1,026 channels, 3.3 GB per
sample for the query array alone, and as much again for each activation of the decoder layer. Each query
attends to the latents independently of the others, so decoding the points in chunks (as the official
colab does, 128 chunks) gives the same output with memory bounded by the chunk size. Works for any
multimodal model: every modality whose output is a grid of points is chunked, the others (a label) are
decoded with every chunk and taken from the last.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

from torchperceiver.adapters.multimodal import MultimodalContext, MultimodalOutput
from torchperceiver.core.model import PerceiverIO


def point_chunks(sizes: Mapping[str, int], chunk_size: int, device: torch.device) -> Iterator[dict[str, torch.Tensor]]:
    """Split the points of every modality, taken one modality after another, into chunks of ``chunk_size``."""
    total = sum(sizes.values())
    for start in range(0, total, chunk_size):
        chunk, offset = {}, 0
        for name, size in sizes.items():
            low = min(max(start - offset, 0), size)
            high = min(max(start + chunk_size - offset, 0), size)
            chunk[name] = torch.arange(low, high, device=device)
            offset += size
        yield chunk


@torch.no_grad()
def reconstruct(
    model: PerceiverIO,
    inputs: Mapping[str, torch.Tensor],
    *,
    chunk_size: int = 16384,
    attention_mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Every output of a multimodal autoencoder (released: ``audio [B, S]``, ``image [B, T, C, H, W]``,
    ``label [B, K]``).

    Equal to ``model(inputs)``, but at most ``chunk_size`` points (plus the label) are decoded at a time. The
    model runs in its current mode: call ``model.eval()`` first for inference.
    """
    output = model.output_adapter
    if not isinstance(output, MultimodalOutput):
        raise ValueError(f"model: expected a multimodal autoencoder, got output adapter {type(output).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected >= 1, got {chunk_size}")
    encoding = model.encode(inputs, attention_mask)
    context = encoding.context
    assert isinstance(context, MultimodalContext)  # a MultimodalOutput is only built beside a multimodal input
    pieces: dict[str, list[torch.Tensor]] = {name: [] for name in output.point_modalities}
    result: dict[str, torch.Tensor] = {}
    for points in point_chunks(output.num_points(context), chunk_size, encoding.latents.device):
        result = model.decode(encoding, subsampled_points=points)
        for name, chunks in pieces.items():
            chunks.append(result[name])
    whole = {
        name: output.point_output(name).whole(torch.cat(chunks, dim=1), context.modalities[name])
        for name, chunks in pieces.items()
    }
    return {**result, **whole}
