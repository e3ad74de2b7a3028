"""Encoder, processor, decoder and the ``PerceiverIO`` model that joins them to two adapters.

The core never imports a modality: it gets ``x [B, M, C]`` from an input adapter, attends to it from
a small learned latent array, processes the latents with self-attention, and answers the output
adapter's queries by cross-attending to the latents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from torchperceiver.atomic import atomic_path
from torchperceiver.core.adapter import AdapterConfig
from torchperceiver.core.layers import BlockSettings, CrossAttentionLayer, SelfAttentionLayer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


@dataclass
class EncoderConfig:
    """Latent array, the input cross-attention and the self-attention processor.

    The processor applies ``num_self_attends_per_block`` layers ``num_blocks`` times with the same
    weights. ``num_cross_attends > 1`` gives the original Perceiver: a cross-attend before each of the
    first blocks, the second one's weights shared by all later cross-attends.
    """

    num_latents: int = 256
    latent_dim: int = 1280
    num_blocks: int = 1
    num_self_attends_per_block: int = 26
    num_cross_heads: int = 8
    num_self_heads: int = 8
    cross_qk_channels: int | None = None
    cross_v_channels: int | None = None
    self_qk_channels: int | None = None
    self_v_channels: int | None = None
    cross_widening_factor: int = 1
    self_widening_factor: int = 1
    cross_query_residual: bool = True
    num_cross_attends: int = 1


@dataclass
class DecoderConfig:
    """One cross-attention from the output queries to the latents.

    ``qk_channels`` defaults to the latent width (``shape_for_attn='kv'``). ``chunk_size`` decodes the
    queries in chunks so an ``[O, N]`` score matrix is never built for a huge O (flow: 182,528).
    """

    num_heads: int = 1
    qk_channels: int | None = None
    v_channels: int | None = None
    widening_factor: int = 1
    query_residual: bool = False
    chunk_size: int | None = None


@dataclass
class PerceiverConfig:
    input_adapter: AdapterConfig
    output_adapter: AdapterConfig
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    block: BlockSettings = field(default_factory=BlockSettings)
    activation_checkpointing: bool = False

    def to_dict(self) -> dict[str, Any]:
        def adapter(cfg: AdapterConfig) -> dict[str, Any]:
            return {"kind": cfg.kind, **asdict(cfg)}

        return {
            "format_version": FORMAT_VERSION,
            "input_adapter": adapter(self.input_adapter),
            "output_adapter": adapter(self.output_adapter),
            "encoder": asdict(self.encoder),
            "decoder": asdict(self.decoder),
            "block": asdict(self.block),
            "activation_checkpointing": self.activation_checkpointing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], adapters: Mapping[str, type[AdapterConfig]]) -> PerceiverConfig:
        """Rebuild from ``to_dict``; ``adapters`` maps each adapter ``kind`` to its config class."""

        def adapter(key: str) -> AdapterConfig:
            spec = dict(data[key])
            kind = spec.pop("kind", None)
            if kind not in adapters:
                raise ValueError(f"{key}.kind: expected one of {sorted(adapters)}, got {kind!r}")
            return _dataclass_from(adapters[kind], spec, key)

        return cls(
            input_adapter=adapter("input_adapter"),
            output_adapter=adapter("output_adapter"),
            encoder=_dataclass_from(EncoderConfig, data.get("encoder", {}), "encoder"),
            decoder=_dataclass_from(DecoderConfig, data.get("decoder", {}), "decoder"),
            block=_dataclass_from(BlockSettings, data.get("block", {}), "block"),
            activation_checkpointing=bool(data.get("activation_checkpointing", False)),
        )


def _dataclass_from(cls: type, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls) if f.init}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}; expected some of {sorted(known)}")
    # JSON turns tuples into lists; configs keep sequences as tuples so they hash and compare.
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


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

    def _run(self, layer: nn.Module, *args: Any) -> torch.Tensor:
        if self.activation_checkpointing and self.training:
            return checkpoint(layer, *args, use_reentrant=False)
        return layer(*args)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.latents.expand(x.shape[0], -1, -1)
        for block in range(self.num_blocks):
            if block < self.num_cross_attends:
                z = self._run(self.cross_attends[min(block, 1)], z, x, mask)
            for layer in self.self_attends:
                z = self._run(layer, z)
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

    def _run(self, queries: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.activation_checkpointing and self.training:
            return checkpoint(self.cross_attend, queries, z, use_reentrant=False)
        return self.cross_attend(queries, z)

    def forward(self, queries: torch.Tensor, z: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """With checkpointing, training keeps one chunk's activations at a time: memory is bounded for any O."""
        chunk_size = chunk_size or self.chunk_size
        if chunk_size is None or queries.shape[1] <= chunk_size:
            return self._run(queries, z)
        return torch.cat([self._run(q, z) for q in queries.split(chunk_size, dim=1)], dim=1)


class PerceiverIO(nn.Module):
    """InputAdapter → encoder → decoder → OutputAdapter."""

    def __init__(self, config: PerceiverConfig) -> None:
        super().__init__()
        self.config = config
        self.input_adapter = config.input_adapter.build()
        self.output_adapter = config.output_adapter.build()
        self.encoder = PerceiverEncoder(config.encoder, self.input_adapter.num_channels, config.block)
        self.encoder.activation_checkpointing = config.activation_checkpointing
        self.decoder = PerceiverDecoder(
            config.decoder, self.output_adapter.query_channels, config.encoder.latent_dim, config.block
        )
        self.decoder.activation_checkpointing = config.activation_checkpointing
        self._init_linear_weights()

    def _init_linear_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, inputs: Any, attention_mask: torch.Tensor | None = None, **query_args: Any) -> Any:
        """Run the model; ``query_args`` go to the output adapter's query builder (e.g. subsampled points)."""
        x, mask, context = self.input_adapter(inputs, attention_mask)
        z = self.encoder(x, mask)
        queries = self.output_adapter.queries(context, **query_args)
        return self.output_adapter(self.decoder(queries, z), context)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``model.safetensors`` and ``config.json``; each file appears atomically."""
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            save_model(self, str(tmp), metadata={"format": "pt"})
        with atomic_path(directory / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
