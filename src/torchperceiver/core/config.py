"""A model's whole architecture as dataclasses, and their JSON form (``config.json``).

``PerceiverConfig`` holds the two adapter configs (nested adapters included, each tagged with its ``kind``),
the encoder, the decoder and the block settings. ``to_dict``/``from_dict`` round-trip it through JSON;
``from_dict`` also reads every earlier ``format_version`` (see ``_migrate_v1``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from torchperceiver.core.adapter import ADAPTERS, AdapterConfig, InputAdapterConfig, OutputAdapterConfig
from torchperceiver.core.layers import BlockSettings
from torchperceiver.core.validate import check_dataclass
from torchperceiver.registry import Registry

FORMAT_VERSION = 2

V1Migration = Callable[[Mapping[str, Any]], dict[str, Any]]
V1_ADAPTERS: Registry[V1Migration] = Registry("format-1 adapter kind")


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

    def __post_init__(self) -> None:
        check_dataclass(self, "encoder")


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

    def __post_init__(self) -> None:
        check_dataclass(self, "decoder")


@dataclass
class PerceiverConfig:
    input_adapter: InputAdapterConfig
    output_adapter: OutputAdapterConfig
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    block: BlockSettings = field(default_factory=BlockSettings)
    activation_checkpointing: bool = False

    def __post_init__(self) -> None:
        check_dataclass(self, "config")

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, **{f.name: to_json(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerceiverConfig:
        """Rebuild from ``to_dict`` output of this or an earlier format version."""
        if not isinstance(data, Mapping):
            raise ValueError(f"config: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("format_version", None)
        if version == 1:
            data = _migrate_v1(data)
        elif version != FORMAT_VERSION:
            raise ValueError(f"config.format_version: expected 1 or {FORMAT_VERSION}, got {version!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown fields {unknown}; expected some of {sorted(known)}")
        for key in ("input_adapter", "output_adapter"):
            if not isinstance(data.get(key), Mapping):
                raise ValueError(f"config.{key}: expected an adapter config object, got {data.get(key)!r}")
        for key in ("encoder", "decoder", "block"):
            if not isinstance(data.get(key, {}), Mapping):
                raise ValueError(f"config.{key}: expected an object, got {data.get(key)!r}")
        return cls(
            input_adapter=from_json(data["input_adapter"], "input_adapter"),
            output_adapter=from_json(data["output_adapter"], "output_adapter"),
            encoder=_dataclass_from(EncoderConfig, data.get("encoder", {}), "encoder"),
            decoder=_dataclass_from(DecoderConfig, data.get("decoder", {}), "decoder"),
            block=_dataclass_from(BlockSettings, data.get("block", {}), "block"),
            activation_checkpointing=data.get("activation_checkpointing", False),
        )


def to_json(value: Any) -> Any:
    """Dataclasses → dicts (adapter configs tagged with their ``kind``), tuples → lists, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
        return {"kind": value.kind, **out} if isinstance(value, AdapterConfig) else out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any, where: str) -> Any:
    """Inverse of ``to_json`` for adapter configs: objects with a ``kind`` become that adapter's config,
    lists become tuples (configs keep sequences as tuples so they hash and compare)."""
    if isinstance(value, Mapping):
        if "kind" in value:
            spec = dict(value)
            kind = spec.pop("kind")
            if kind not in ADAPTERS:
                raise ValueError(f"{where}.kind: expected one of {ADAPTERS.names()}, got {kind!r}")
            return _dataclass_from(ADAPTERS.get(kind), spec, where)
        return {k: from_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return tuple(from_json(v, f"{where}[{i}]") for i, v in enumerate(value))
    return value


def _dataclass_from(cls: type, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls) if f.init}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}; expected some of {sorted(known)}")
    return cls(**{k: from_json(v, f"{where}.{k}") for k, v in values.items()})


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 (before one folder per family) differs only in some adapters' configs; the adapters that
    changed register how to read their old form (``V1_ADAPTERS``, keyed by the old ``kind``)."""
    data = dict(data)
    for key in ("input_adapter", "output_adapter"):
        spec = data.get(key)
        if isinstance(spec, Mapping) and str(spec.get("kind")) in V1_ADAPTERS:
            data[key] = V1_ADAPTERS.get(str(spec.get("kind")))(spec)
    return data
