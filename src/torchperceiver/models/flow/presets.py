"""The released optical-flow model (DESIGN §3): 2048 × 512 latents, 24 self-attention layers, per-pixel queries."""

from __future__ import annotations

from torchperceiver.core.checks import as_pair
from torchperceiver.core.config import DecoderConfig
from torchperceiver.core.layers import Activation
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.flow.adapters import FlowInputConfig, FlowOutputConfig
from torchperceiver.presets import perceiver, register_preset

# 16,384 queries × 2048 latents: a 128 MiB score matrix where SDPA falls back to its math kernel.
DEFAULT_CHUNK_SIZE = 16384


@register_preset("optical-flow")
def optical_flow(
    *,
    train_size: tuple[int, int] = (368, 496),
    num_latents: int = 2048,
    latent_dim: int = 512,
    num_layers: int = 24,
    num_self_heads: int = 16,
    num_cross_heads: int = 1,
    num_bands: int = 64,
    patch_dim: int = 64,
    normalize_frames: bool = False,
    decoder_chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """``model(frames [B, 2, 3, *train_size]) -> flow [B, 2, *train_size]`` in pixels.

    qk/v channels follow the official ``shape_for_attn='kv'`` defaults: the encoder cross-attention works at
    the input width (322), self-attention and the decoder at the latent width (512); all widening factors are 1.
    The decoder has one head and no query residual and decodes ``decoder_chunk_size`` pixels at a time.
    ``normalize_frames`` (not in the released model) standardises each colour channel of each frame first;
    small models trained from scratch need it.
    """
    input_cfg = FlowInputConfig(
        train_size=as_pair("train_size", train_size),
        num_bands=num_bands,
        patch_dim=patch_dim,
        normalize=normalize_frames,
    )
    return perceiver(
        input_cfg,
        FlowOutputConfig(query_dim=input_cfg.num_channels),
        num_latents=num_latents,
        latent_dim=latent_dim,
        num_layers=num_layers,
        num_self_heads=num_self_heads,
        num_cross_heads=num_cross_heads,
        decoder=DecoderConfig(num_heads=1, query_residual=False, chunk_size=decoder_chunk_size),
        activation=activation,
        attention_dropout=attention_dropout,
        activation_checkpointing=activation_checkpointing,
    )
