"""Language presets: the released byte-level MLM (DESIGN §3) and a sequence classifier on the same encoder."""

from __future__ import annotations

from typing import Literal

from torchperceiver.adapters.classification import ClassificationOutputConfig
from torchperceiver.adapters.text import MaskedLMOutputConfig, TextInputConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import DecoderConfig, EncoderConfig, PerceiverConfig, PerceiverIO
from torchperceiver.tokenizer import VOCAB_SIZE


def _text_encoder(
    num_latents: int, latent_dim: int, num_layers: int, num_heads: int, qk_channels: int | None
) -> EncoderConfig:
    return EncoderConfig(
        num_latents=num_latents,
        latent_dim=latent_dim,
        num_blocks=1,
        num_self_attends_per_block=num_layers,
        num_cross_heads=num_heads,
        num_self_heads=num_heads,
        cross_qk_channels=qk_channels,
        cross_v_channels=latent_dim,
        self_qk_channels=qk_channels,
        self_v_channels=latent_dim,
    )


def language_mlm(
    *,
    num_latents: int = 256,
    latent_dim: int = 1280,
    num_layers: int = 26,
    num_heads: int = 8,
    qk_channels: int = 256,
    embed_dim: int = 768,
    max_seq_len: int = 2048,
    vocab_size: int = VOCAB_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
) -> PerceiverIO:
    """Byte-level masked LM: ``model(input_ids [B, L], attention_mask) -> logits [B, L, vocab]``."""
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=TextInputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
            output_adapter=MaskedLMOutputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
            encoder=_text_encoder(num_latents, latent_dim, num_layers, num_heads, qk_channels),
            decoder=DecoderConfig(
                num_heads=num_heads, qk_channels=qk_channels, v_channels=embed_dim, query_residual=False
            ),
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
        )
    )


def text_classifier(
    *,
    num_classes: int = 2,
    head: Literal["linear", "mlp"] = "linear",
    num_latents: int = 256,
    latent_dim: int = 1280,
    num_layers: int = 26,
    num_heads: int = 8,
    qk_channels: int = 256,
    embed_dim: int = 768,
    max_seq_len: int = 2048,
    vocab_size: int = VOCAB_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
) -> PerceiverIO:
    """The MLM encoder with one class query (query residual): ``model(input_ids, attention_mask) -> [B, C]``."""
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=TextInputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
            output_adapter=ClassificationOutputConfig(num_classes=num_classes, query_dim=latent_dim, head=head),
            encoder=_text_encoder(num_latents, latent_dim, num_layers, num_heads, qk_channels),
            decoder=DecoderConfig(num_heads=1, query_residual=True),
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
        )
    )


PRESETS = {"language-mlm": language_mlm, "text-classifier": text_classifier}
