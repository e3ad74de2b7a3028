"""Encoder, processor, decoder and the ``PerceiverIO`` model that joins them to two adapters.

The core never imports a modality: it gets ``x [B, M, C]`` from an input adapter, attends to it from
a small learned latent array, processes the latents with self-attention, and answers the output
adapter's queries by cross-attending to the latents.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from torchperceiver.core.adapter import Context
from torchperceiver.core.checks import check_mask
from torchperceiver.core.config import DecoderConfig, EncoderConfig, PerceiverConfig
from torchperceiver.core.init import official_init_
from torchperceiver.core.layers import BlockSettings, CrossAttentionLayer, SelfAttentionLayer


def _maybe_checkpointed(module: nn.Module, enabled: bool, *args: Any) -> torch.Tensor:
    """Run ``module``; when ``enabled`` in training, recompute its activations in the backward pass."""
    if enabled and module.training:
        return checkpoint(module, *args, use_reentrant=False)
    return module(*args)


class PerceiverEncoder(nn.Module):
    """Learned latents ``[N, D]`` cross-attend to the input, then ``L`` self-attention layers."""

    def __init__(self, cfg: EncoderConfig, input_dim: int, settings: BlockSettings) -> None:
        super().__init__()
        self.num_blocks = cfg.num_blocks
        self.num_cross_attends = cfg.num_cross_attends
        self.activation_checkpointing = False
        self.latents = nn.Parameter(torch.empty(cfg.num_latents, cfg.latent_dim))
        nn.init.trunc_normal_(self.latents, std=0.02)

        def cross() -> CrossAttentionLayer:
            return CrossAttentionLayer(
                cfg.latent_dim,
                input_dim,
                num_heads=cfg.num_cross_heads,
                qk_channels=cfg.cross_qk_channels,
                v_channels=cfg.cross_v_channels,
                widening_factor=cfg.cross_widening_factor,
                query_residual=cfg.cross_query_residual,
                settings=settings,
            )

        self.cross_attends = nn.ModuleList([cross() for _ in range(min(cfg.num_cross_attends, 2))])
        self.self_attends = nn.ModuleList(
            SelfAttentionLayer(
                cfg.latent_dim,
                num_heads=cfg.num_self_heads,
                qk_channels=cfg.self_qk_channels,
                v_channels=cfg.self_v_channels,
                widening_factor=cfg.self_widening_factor,
                settings=settings,
            )
            for _ in range(cfg.num_self_attends_per_block)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.latents.expand(x.shape[0], -1, -1)
        for block in range(self.num_blocks):
            if block < self.num_cross_attends:
                z = _maybe_checkpointed(self.cross_attends[min(block, 1)], self.activation_checkpointing, z, x, mask)
            for layer in self.self_attends:
                z = _maybe_checkpointed(layer, self.activation_checkpointing, z)
        return z


class PerceiverDecoder(nn.Module):
    """Queries ``[B, O, E]`` cross-attend to the latents; the output keeps the query width E."""

    def __init__(self, cfg: DecoderConfig, query_dim: int, latent_dim: int, settings: BlockSettings) -> None:
        super().__init__()
        self.chunk_size = cfg.chunk_size
        self.activation_checkpointing = False
        self.cross_attend = CrossAttentionLayer(
            query_dim,
            latent_dim,
            num_heads=cfg.num_heads,
            qk_channels=cfg.qk_channels,
            v_channels=cfg.v_channels,
            widening_factor=cfg.widening_factor,
            query_residual=cfg.query_residual,
            settings=settings,
        )

    def forward(
        self,
        queries: torch.Tensor,
        z: torch.Tensor,
        chunk_size: int | None = None,
        query_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """With checkpointing, training keeps one chunk's activations at a time: memory is bounded for any O.

        ``query_mask [B, O]`` (True = valid): masked queries attend to nothing (the official decoder's mask).
        """
        chunk_size = chunk_size or self.chunk_size
        chunks = [queries] if chunk_size is None else queries.split(chunk_size, dim=1)
        masks: Sequence[torch.Tensor | None] = [query_mask] * len(chunks)
        if query_mask is not None and chunk_size is not None:
            masks = query_mask.split(chunk_size, dim=1)
        outputs = [
            _maybe_checkpointed(self.cross_attend, self.activation_checkpointing, q, z, None, m)
            for q, m in zip(chunks, masks, strict=True)
        ]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


class Encoding(NamedTuple):
    """What ``PerceiverIO.encode`` returns: the processed latents and the input's context."""

    latents: torch.Tensor
    context: Context


class PerceiverIO(nn.Module):
    """InputAdapter → encoder → decoder → OutputAdapter.

    ``encode`` and ``decode`` are the two halves of ``forward``: encode once, then decode any set of
    outputs (chunked reconstruction, tiled flow, per-task queries) without reaching into the submodules.
    """

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__()
        config.output_adapter.check_input(config.input_adapter)
        self.config = config
        self.input_adapter = config.input_adapter.build()
        self.output_adapter = config.output_adapter.build()
        self.encoder = PerceiverEncoder(config.encoder, self.input_adapter.num_channels, config.block)
        self.decoder = PerceiverDecoder(
            config.decoder, self.output_adapter.query_channels, config.encoder.latent_dim, config.block
        )
        self.set_activation_checkpointing(config.activation_checkpointing)
        official_init_(self)

    def set_activation_checkpointing(self, enabled: bool) -> None:
        """Recompute each attention layer's (and decoder chunk's) activations in backward instead of storing them."""
        self.config.activation_checkpointing = enabled
        self.encoder.activation_checkpointing = enabled
        self.decoder.activation_checkpointing = enabled

    def encode(self, inputs: Any, attention_mask: torch.Tensor | None = None) -> Encoding:
        x, mask, context = self.input_adapter(inputs, attention_mask)
        dtype = self.encoder.latents.dtype
        if x.dtype != dtype and x.is_floating_point() and not torch.is_autocast_enabled(x.device.type):
            x = x.to(dtype)  # inputs of another float dtype than the model's (e.g. float64 pixels)
        return Encoding(self.encoder(x, mask), context)

    def decode(
        self,
        encoding: Encoding,
        *,
        chunk_size: int | None = None,
        query_mask: torch.Tensor | None = None,
        **query_args: Any,
    ) -> Any:
        """Answer the output adapter's queries; ``query_args`` choose them (e.g. ``subsampled_points``).

        ``query_mask [B, O]`` (True = valid) masks queries as the official decoder does (the MLM colab passes
        the input mask): a masked query's attention output is zero.
        """
        queries = self.output_adapter.queries(encoding.context, **query_args)
        query_mask = check_mask("query_mask", query_mask, tuple(queries.shape[:2]))
        y = self.decoder(queries, encoding.latents, chunk_size, query_mask)
        return self.output_adapter(y, encoding.context, **query_args)

    def forward(
        self,
        inputs: Any,
        attention_mask: torch.Tensor | None = None,
        query_mask: torch.Tensor | None = None,
        **query_args: Any,
    ) -> Any:
        return self.decode(self.encode(inputs, attention_mask), query_mask=query_mask, **query_args)

    def example_inputs(self, batch_size: int = 1) -> tuple[Any, ...]:
        """Random positional arguments for ``self(*args)`` at the configured sizes (tests, benchmarks, export)."""
        return self.input_adapter.example_inputs(batch_size)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``model.safetensors`` and ``config.json``; each file appears atomically."""
        from torchperceiver.core.io import save

        save(self, directory)
