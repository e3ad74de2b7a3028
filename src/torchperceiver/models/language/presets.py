"""Language presets: the released byte-level MLM (DESIGN §3), and a sequence classifier and a multi-task
classifier (one query per task) on the same encoder."""

from __future__ import annotations

from typing import Literal

from torchperceiver.adapters.label import ClassificationOutputConfig
from torchperceiver.adapters.text import MaskedLMOutputConfig, TextInputConfig
from torchperceiver.core.config import DecoderConfig
from torchperceiver.core.layers import Activation
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.language.multitask_output import MultiTaskOutputConfig
from torchperceiver.presets import encoder_arguments, perceiver, register_preset
from torchperceiver.tokenizer import VOCAB_SIZE


@register_preset("language-mlm")
def language_mlm(
    *,
    num_latents: int = 256,
    latent_dim: int = 1280,
    num_layers: int = 26,
    num_self_heads: int = 8,
    num_cross_heads: int = 8,
    qk_channels: int = 256,
    embed_dim: int = 768,
    max_seq_len: int = 2048,
    vocab_size: int = VOCAB_SIZE,
    decoder_chunk_size: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """Byte-level masked LM: ``model(input_ids [B, L], attention_mask) -> logits [B, L, vocab]``.

    The official widths: qk 256 and v = the latent width in the encoder; the decoder (``num_cross_heads``
    heads, no query residual) attends with qk 256 and v = ``embed_dim``.
    """
    return perceiver(
        TextInputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
        MaskedLMOutputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
        v_channels=latent_dim,
        decoder=DecoderConfig(
            num_heads=num_cross_heads,
            qk_channels=qk_channels,
            v_channels=embed_dim,
            query_residual=False,
            chunk_size=decoder_chunk_size,
        ),
        **encoder_arguments(locals()),
    )


@register_preset("text-classifier")
def text_classifier(
    *,
    num_classes: int = 2,
    head: Literal["linear", "mlp"] = "linear",
    labels: tuple[str, ...] = (),
    num_latents: int = 256,
    latent_dim: int = 1280,
    num_layers: int = 26,
    num_self_heads: int = 8,
    num_cross_heads: int = 8,
    qk_channels: int = 256,
    embed_dim: int = 768,
    max_seq_len: int = 2048,
    vocab_size: int = VOCAB_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """The MLM encoder with one class query (query residual): ``model(input_ids, attention_mask) -> [B, C]``.

    ``labels``: class names, saved with the model (``predict classify`` prints them).
    """
    return perceiver(
        TextInputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
        ClassificationOutputConfig(num_classes=num_classes, query_dim=latent_dim, head=head, labels=tuple(labels)),
        v_channels=latent_dim,
        decoder=DecoderConfig(num_heads=1, query_residual=True),
        **encoder_arguments(locals()),
    )


@register_preset("text-multitask")
def text_multitask(
    *,
    tasks: tuple[str, ...] = ("task",),
    num_outputs: tuple[int, ...] = (2,),
    labels: tuple[tuple[str, ...], ...] = (),
    head: Literal["linear", "mlp"] = "linear",
    num_latents: int = 256,
    latent_dim: int = 1280,
    num_layers: int = 26,
    num_self_heads: int = 8,
    num_cross_heads: int = 8,
    qk_channels: int = 256,
    embed_dim: int = 768,
    max_seq_len: int = 2048,
    vocab_size: int = VOCAB_SIZE,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """The MLM encoder with one learned query per task (the paper's multi-task GLUE model):
    ``model(input_ids, attention_mask) -> {task: [B, num_outputs[task]]}``, every task from one decode."""
    return perceiver(
        TextInputConfig(vocab_size=vocab_size, max_seq_len=max_seq_len, embed_dim=embed_dim),
        MultiTaskOutputConfig(
            tasks=tuple(tasks),
            num_outputs=tuple(num_outputs),
            labels=tuple(map(tuple, labels)),
            query_dim=latent_dim,
            head=head,
        ),
        v_channels=latent_dim,
        decoder=DecoderConfig(num_heads=1, query_residual=True),
        **encoder_arguments(locals()),
    )
