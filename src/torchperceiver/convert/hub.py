"""``from_pretrained(repo_id_or_dir)``: HF hub Perceiver repos straight into torchperceiver, no ``transformers``.

A repo (``deepmind/language-perceiver`` and the other five, or a fine-tuned one of the same classes) holds
``config.json`` (HF's ``PerceiverConfig``, only the fields that differ from its defaults) and
``model.safetensors`` or ``pytorch_model.bin`` (HF's state dict). Each family registers a reader for its HF
classes (``@register_hub_reader("PerceiverForOpticalFlow")``) that builds the model HF's class would build
and renames the weights; the result equals ``from_transformers`` on the same repo. ``huggingface_hub``
(the ``hub`` extra) is needed only to download a repo id; a local directory needs nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from torchperceiver.adapters.label import ClassificationOutputConfig
from torchperceiver.core.adapter import AdapterConfig
from torchperceiver.core.config import DecoderConfig, PerceiverConfig
from torchperceiver.core.model import PerceiverIO
from torchperceiver.registry import Registry

# HF ``PerceiverConfig`` defaults (transformers 4.x and 5.x agree): ``save_pretrained`` omits fields left at these.
HF_DEFAULTS: dict[str, Any] = {
    "num_latents": 256,
    "d_latents": 1280,
    "d_model": 768,
    "num_blocks": 1,
    "num_self_attends_per_block": 26,
    "num_self_attention_heads": 8,
    "num_cross_attention_heads": 8,
    "qk_channels": None,
    "v_channels": None,
    "cross_attention_shape_for_attention": "kv",
    "self_attention_widening_factor": 1,
    "cross_attention_widening_factor": 1,
    "hidden_act": "gelu",
    "attention_probs_dropout_prob": 0.1,
    "use_query_residual": True,
    "vocab_size": 262,
    "max_position_embeddings": 2048,
    "image_size": 56,
    "train_size": (368, 496),
    "num_frames": 16,
    "audio_samples_per_frame": 1920,
    "samples_per_patch": 16,
    "output_shape": (1, 16, 224, 224),
    "output_num_channels": 512,
    "_label_trainable_num_channels": 1024,
}
CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")

State = dict[str, torch.Tensor]
HubReader = Callable[[SimpleNamespace, "Weights"], PerceiverIO]
HUB_READERS: Registry[HubReader] = Registry("HF architecture")


def register_hub_reader(*architectures: str) -> Callable[[HubReader], HubReader]:
    """Decorator: ``fn(hf_config, weights) -> PerceiverIO`` reads repos of the HF classes ``architectures``."""

    def add(fn: HubReader) -> HubReader:
        for name in architectures:
            HUB_READERS.add(name, fn)
        return fn

    return add


class Weights:
    """An HF state dict that records which tensors were taken, so nothing is silently left behind."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors
        self.used: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def take(self, name: str) -> torch.Tensor:
        if name not in self.tensors:
            raise ValueError(f"from_pretrained: weights: expected a tensor {name!r}, found none")
        self.used.add(name)
        return self.tensors[name]

    def rename(self, pairs: Iterable[tuple[str, str]]) -> State:
        """``{ours: weights[hf]}`` for each ``(ours, hf)`` pair."""
        return {ours: self.take(hf) for ours, hf in pairs}

    def unused(self) -> list[str]:
        return sorted(set(self.tensors) - self.used)


# ---------------------------------------------------------------------------------------------------------
# Reading a repo directory


def read_config(directory: Path) -> SimpleNamespace:
    """``config.json`` with HF's defaults filled in, as attributes (``num_labels`` from ``id2label``)."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"repo_id_or_dir: expected {CONFIG_FILE} in {directory}, found none")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    values = {**HF_DEFAULTS, **data}
    values.setdefault("num_labels", len(data["id2label"]) if "id2label" in data else 2)
    return SimpleNamespace(**values)


def read_weights(directory: Path) -> State:
    """HF's state dict from ``model.safetensors`` or ``pytorch_model.bin`` (sharded or not), loaded safely."""
    for index in SHARD_INDEXES:
        if (directory / index).is_file():
            shards = sorted(set(json.loads((directory / index).read_text())["weight_map"].values()))
            return {k: v for shard in shards for k, v in _read_weight_file(directory / shard).items()}
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return _read_weight_file(directory / name)
    raise FileNotFoundError(f"repo_id_or_dir: expected one of {list(WEIGHT_FILES)} in {directory}, found none")


def _read_weight_file(path: Path) -> State:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: a .bin cannot run code
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def _download(repo_id: str, revision: str | None, cache_dir: str | os.PathLike | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as err:
        raise ImportError(
            f"from_pretrained({repo_id!r}): downloading needs huggingface_hub "
            "(pip install 'torchperceiver[hub]'), or pass a local directory"
        ) from err
    patterns = [CONFIG_FILE, *WEIGHT_FILES, *SHARD_INDEXES, "*.safetensors"]
    cache = None if cache_dir is None else Path(cache_dir)
    return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache, allow_patterns=patterns))


def from_pretrained(
    repo_id_or_dir: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> PerceiverIO:
    """An HF hub Perceiver (repo id or local directory) as a torchperceiver model in eval mode.

    Also reads a torchperceiver ``save_pretrained`` directory. Outputs equal ``from_transformers`` on the
    same HF model (see docs/hf-differences.md for what the HF-compatible settings change).
    """
    path = Path(repo_id_or_dir)
    if not path.is_dir() and (path.exists() or str(repo_id_or_dir).startswith((".", "/", "~"))):
        raise FileNotFoundError(f"repo_id_or_dir: expected a directory or an 'owner/name' repo id, got {path}")
    directory = path if path.is_dir() else _download(str(repo_id_or_dir), revision, cache_dir)
    raw = json.loads((directory / CONFIG_FILE).read_text()) if (directory / CONFIG_FILE).is_file() else {}
    if "format_version" in raw:  # our own save_pretrained format
        from torchperceiver.core.io import load

        return load(directory)
    config = read_config(directory)
    architectures = list(getattr(config, "architectures", None) or [])
    known = [a for a in architectures if a in HUB_READERS]
    if getattr(config, "model_type", None) != "perceiver" or not known:
        raise ValueError(
            f"{directory / CONFIG_FILE}: expected a Perceiver repo of one of {HUB_READERS.names()}, got "
            f"model_type={getattr(config, 'model_type', None)!r} architectures={architectures}"
        )
    weights = Weights(read_weights(directory))
    return HUB_READERS.get(known[0])(config, weights)


# ---------------------------------------------------------------------------------------------------------
# Pieces every family's reader shares

_LAYER_NAMES = {
    "attention.self.query": "attn.query",
    "attention.self.key": "attn.key",
    "attention.self.value": "attn.value",
    "attention.output.dense": "attn.out",
    "layernorm": "mlp_norm",
    "mlp.dense1": "mlp.fc1",
    "mlp.dense2": "mlp.fc2",
}


def layer(weights: Weights, hf_prefix: str, prefix: str, cross: bool) -> State:
    """An HF ``PerceiverLayer`` under our Cross/SelfAttentionLayer names."""
    names = {**_LAYER_NAMES, "attention.self.layernorm1": "q_norm" if cross else "norm"}
    if cross:
        names["attention.self.layernorm2"] = "kv_norm"
    pairs = [
        (f"{prefix}.{ours}.{p}", f"{hf_prefix}.{hf}.{p}") for hf, ours in names.items() for p in ("weight", "bias")
    ]
    return weights.rename(pairs)


def encoder(weights: Weights, num_self_attends: int) -> State:
    state = {"encoder.latents": weights.take("perceiver.embeddings.latents")}
    state.update(layer(weights, "perceiver.encoder.cross_attention", "encoder.cross_attends.0", cross=True))
    for i in range(num_self_attends):
        state.update(layer(weights, f"perceiver.encoder.self_attends.{i}", f"encoder.self_attends.{i}", cross=False))
    return state


def decoder(
    weights: Weights, hf_prefix: str, *, num_heads: int, query_residual: bool, chunk_size: int | None = None
) -> tuple[DecoderConfig, State]:
    """HF's decoding cross-attention at ``hf_prefix``: channel widths read from its weights."""
    state = layer(weights, hf_prefix, "decoder.cross_attend", cross=True)
    fc1 = state["decoder.cross_attend.mlp.fc1.weight"]
    cfg = DecoderConfig(
        num_heads=num_heads,
        qk_channels=state["decoder.cross_attend.attn.query.weight"].shape[0],
        v_channels=state["decoder.cross_attend.attn.value.weight"].shape[0],
        widening_factor=fc1.shape[0] // fc1.shape[1],
        query_residual=query_residual,
        chunk_size=chunk_size,
    )
    return cfg, state


def classification_output(hf_config: SimpleNamespace, weights: Weights) -> tuple[ClassificationOutputConfig, State]:
    """HF's ``PerceiverClassificationDecoder``: one trainable query and a final linear layer."""
    state = weights.rename(
        [
            ("output_adapter.query", "perceiver.decoder.decoder.output_position_encodings.position_embeddings"),
            ("output_adapter.head.weight", "perceiver.decoder.decoder.final_layer.weight"),
            ("output_adapter.head.bias", "perceiver.decoder.decoder.final_layer.bias"),
        ]
    )
    query_dim = state["output_adapter.query"].shape[1]
    return ClassificationOutputConfig(num_classes=hf_config.num_labels, query_dim=query_dim, head="linear"), state


def assemble(
    hf_config: SimpleNamespace,
    weights: Weights,
    input_adapter: AdapterConfig,
    output_adapter: AdapterConfig,
    decoder_config: DecoderConfig,
    state: State,
) -> PerceiverIO:
    """Build the model HF's class builds and load every weight strictly: no HF tensor left, none of ours unset."""
    from torchperceiver.convert.hf_common import block_settings, encoder_config

    config = PerceiverConfig(
        input_adapter=input_adapter,  # type: ignore[arg-type]
        output_adapter=output_adapter,  # type: ignore[arg-type]
        encoder=encoder_config(hf_config),
        decoder=decoder_config,
        block=block_settings(hf_config),
    )
    state = {**state, **encoder(weights, hf_config.num_self_attends_per_block)}
    unused = weights.unused()
    if unused:
        raise ValueError(f"from_pretrained: HF weights not mapped: {unused}")
    model = PerceiverIO(config)
    ours = model.state_dict()
    missing, extra = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    if missing or extra:
        raise ValueError(f"from_pretrained: weight mapping incomplete (missing {missing}, unexpected {extra})")
    for name, tensor in state.items():
        if ours[name].shape != tensor.shape:
            raise ValueError(
                f"from_pretrained: {name}: expected shape {tuple(ours[name].shape)}, got {tuple(tensor.shape)}"
            )
    model.load_state_dict(state, strict=True)
    return model.eval()
