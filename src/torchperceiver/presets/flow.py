"""The released optical-flow model (DESIGN §3): 2048 × 512 latents, 24 self-attention layers, per-pixel queries."""

from __future__ import annotations

from torchperceiver.adapters.flow import FlowInputConfig, FlowOutputConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import DecoderConfig, EncoderConfig, PerceiverConfig, PerceiverIO

# 16,384 queries × 2048 latents: a 128 MiB score matrix where SDPA falls back to its math kernel.
DEFAULT_CHUNK_SIZE = 16384


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
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
) -> PerceiverIO:
    """``model(frames [B, 2, 3, *train_size]) -> flow [B, 2, *train_size]`` in pixels.

    qk/v channels follow the official ``shape_for_attn='kv'`` defaults: the encoder cross-attention works at
    the input width (322), self-attention and the decoder at the latent width (512); all widening factors are 1.
    The decoder has one head and no query residual and decodes ``chunk_size`` pixels at a time.
    """
    input_cfg = FlowInputConfig(train_size=tuple(train_size), num_bands=num_bands, patch_dim=patch_dim)
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=input_cfg,
            output_adapter=FlowOutputConfig(query_dim=input_cfg.num_channels),
            encoder=EncoderConfig(
                num_latents=num_latents,
                latent_dim=latent_dim,
                num_blocks=1,
                num_self_attends_per_block=num_layers,
                num_cross_heads=num_cross_heads,
                num_self_heads=num_self_heads,
            ),
            decoder=DecoderConfig(num_heads=1, query_residual=False, chunk_size=chunk_size),
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
        )
    )


PRESETS = {"optical-flow": optical_flow}
