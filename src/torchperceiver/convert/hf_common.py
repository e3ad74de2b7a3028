"""Pieces every HF → torchperceiver conversion shares: config fields, layer and encoder weights.

Works on the module tree of an HF ``Perceiver*`` model; ``transformers`` itself is never imported.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchperceiver.adapters.label import ClassificationOutputConfig
from torchperceiver.core.adapter import InputAdapterConfig, OutputAdapterConfig
from torchperceiver.core.config import DecoderConfig, EncoderConfig, PerceiverConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import PerceiverIO

_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
State = dict[str, torch.Tensor]


def unsupported(what: str, expected: str, got: Any) -> ValueError:
    return ValueError(f"from_transformers: {what}: expected {expected}, got {got!r}")


def block_settings(hf_config: Any) -> BlockSettings:
    act = hf_config.hidden_act
    activation: Activation
    if act == "gelu":
        activation = "gelu"
    elif act in _TANH_GELUS:
        activation = "gelu_tanh"
    else:
        raise unsupported("config.hidden_act", f"'gelu' or one of {_TANH_GELUS}", act)
    return BlockSettings(activation=activation, attention_dropout=float(hf_config.attention_probs_dropout_prob))


def encoder_config(hf_config: Any) -> EncoderConfig:
    """The encoder HF builds from ``PerceiverConfig`` (its channel defaults resolved the way HF resolves them)."""
    c = hf_config
    latent = c.d_latents
    if c.qk_channels is not None:
        cross_qk, cross_v = c.qk_channels, c.v_channels or c.qk_channels
    elif c.cross_attention_shape_for_attention == "q":
        cross_qk, cross_v = latent, c.v_channels or latent
    elif c.cross_attention_shape_for_attention == "kv":
        cross_qk, cross_v = None, c.v_channels  # None: the input width, resolved by the layer
    else:
        raise unsupported(
            "config.cross_attention_shape_for_attention", "'q' or 'kv'", c.cross_attention_shape_for_attention
        )
    self_qk = c.qk_channels or latent
    self_v = c.v_channels or self_qk
    if self_v != latent:
        raise unsupported("config.v_channels for self-attention", f"d_latents={latent}", self_v)
    return EncoderConfig(
        num_latents=c.num_latents,
        latent_dim=latent,
        num_blocks=c.num_blocks,
        num_self_attends_per_block=c.num_self_attends_per_block,
        num_cross_heads=c.num_cross_attention_heads,
        num_self_heads=c.num_self_attention_heads,
        cross_qk_channels=cross_qk,
        cross_v_channels=cross_v,
        self_qk_channels=self_qk,
        self_v_channels=self_v,
        cross_widening_factor=c.cross_attention_widening_factor,
        self_widening_factor=c.self_attention_widening_factor,
        cross_query_residual=c.use_query_residual,
    )


def _linear(prefix: str, linear: Any) -> State:
    if isinstance(linear, nn.Identity):
        return {}
    return {f"{prefix}.weight": linear.weight, f"{prefix}.bias": linear.bias}


def layer_state(prefix: str, hf_layer: Any, cross: bool) -> State:
    """Weights of an HF ``PerceiverLayer`` under our Cross/SelfAttentionLayer names."""
    attn = hf_layer.attention.self
    state = {
        **_linear(f"{prefix}.{'q_norm' if cross else 'norm'}", attn.layernorm1),
        **_linear(f"{prefix}.attn.query", attn.query),
        **_linear(f"{prefix}.attn.key", attn.key),
        **_linear(f"{prefix}.attn.value", attn.value),
        **_linear(f"{prefix}.attn.out", hf_layer.attention.output.dense),
        **_linear(f"{prefix}.mlp_norm", hf_layer.layernorm),
        **_linear(f"{prefix}.mlp.fc1", hf_layer.mlp.dense1),
        **_linear(f"{prefix}.mlp.fc2", hf_layer.mlp.dense2),
    }
    if cross:
        state.update(_linear(f"{prefix}.kv_norm", attn.layernorm2))
    return state


def encoder_state(hf_perceiver: Any) -> State:
    """Latents, the input cross-attention and the self-attention stack of an HF ``PerceiverModel``."""
    encoder = hf_perceiver.encoder
    state = {"encoder.latents": hf_perceiver.embeddings.latents}
    state.update(layer_state("encoder.cross_attends.0", encoder.cross_attention, cross=True))
    for i, layer in enumerate(encoder.self_attends):
        state.update(layer_state(f"encoder.self_attends.{i}", layer, cross=False))
    return state


def decoder(hf_layer: Any, chunk_size: int | None = None) -> tuple[DecoderConfig, State]:
    """The decoder settings and weights of an HF decoding cross-attention ``PerceiverLayer``."""
    attn = hf_layer.attention.self
    cfg = DecoderConfig(
        num_heads=attn.num_heads,
        qk_channels=attn.qk_channels,
        v_channels=attn.v_channels,
        widening_factor=hf_layer.mlp.dense1.out_features // hf_layer.mlp.dense1.in_features,
        query_residual=hf_layer.attention.use_query_residual,
        chunk_size=chunk_size,
    )
    return cfg, layer_state("decoder.cross_attend", hf_layer, cross=True)


def assemble(
    hf_model: Any,
    input_adapter: InputAdapterConfig,
    output_adapter: OutputAdapterConfig,
    decoder_config: DecoderConfig,
    state: State,
) -> PerceiverIO:
    """Build the model around HF's encoder and load every weight strictly (all covered, shapes equal).

    ``state`` holds the adapter and decoder weights; the encoder's are added here.
    """
    config = PerceiverConfig(
        input_adapter=input_adapter,
        output_adapter=output_adapter,
        encoder=encoder_config(hf_model.config),
        decoder=decoder_config,
        block=block_settings(hf_model.config),
    )
    state = {**state, **encoder_state(hf_model.perceiver)}
    model = PerceiverIO(config)
    ours = model.state_dict()
    missing = sorted(set(ours) - set(state))
    extra = sorted(set(state) - set(ours))
    if missing or extra:
        raise ValueError(f"from_transformers: weight mapping incomplete (missing {missing}, unexpected {extra})")
    for name, tensor in state.items():
        if ours[name].shape != tensor.shape:
            raise ValueError(
                f"from_transformers: {name}: expected shape {tuple(ours[name].shape)}, got {tuple(tensor.shape)}"
            )
    model.load_state_dict({k: v.detach().clone() for k, v in state.items()}, strict=True)
    return model.eval()


def classification_output(hf_decoder: Any, num_classes: int) -> tuple[ClassificationOutputConfig, State]:
    """HF's ``PerceiverClassificationDecoder``: a trainable one-position query and a final linear layer."""
    basic = hf_decoder.decoder
    if basic.position_encoding_type != "trainable":
        raise unsupported("classification decoder position encoding", "'trainable'", basic.position_encoding_type)
    query = basic.output_position_encodings.position_embeddings
    cfg = ClassificationOutputConfig(num_classes=num_classes, query_dim=query.shape[1], head="linear")
    state = {
        "output_adapter.query": query,
        "output_adapter.head.weight": basic.final_layer.weight,
        "output_adapter.head.bias": basic.final_layer.bias,
    }
    return cfg, state


def classification_decoder(hf_decoder: Any) -> tuple[DecoderConfig, State]:
    return decoder(hf_decoder.decoder.decoding_cross_attention)
