"""ImageNet presets (DESIGN §3): the three released image classifiers, as the official code builds them.

All three share the encoder (512 × 1024 latents, 8 blocks × 6 self-attends with shared weights, 8 self
heads, 1 cross head, widening factor 1) and a class decoder (one learned 1024-wide query, 1 head, qk = v =
1024); they differ in the input and in the decoder's query residual. ``model(images [B, 3, H, W]) -> [B, classes]``.
"""

from __future__ import annotations

from typing import Any

from torchperceiver.adapters.image import ImageInputConfig
from torchperceiver.adapters.label import ClassificationOutputConfig
from torchperceiver.core.checks import as_pair
from torchperceiver.core.config import DecoderConfig
from torchperceiver.core.layers import Activation
from torchperceiver.core.model import PerceiverIO
from torchperceiver.presets import encoder_arguments, perceiver, register_preset


def image_classifier(
    image: ImageInputConfig,
    *,
    num_classes: int,
    labels: tuple[str, ...],
    latent_dim: int,
    decoder_query_residual: bool,
    **encoder: Any,
) -> PerceiverIO:
    """An image classifier: ``image`` in, one learned class query out; ``encoder``: ``perceiver()``'s arguments."""
    return perceiver(
        image,
        ClassificationOutputConfig(num_classes=num_classes, query_dim=latent_dim, labels=tuple(labels)),
        latent_dim=latent_dim,
        decoder=DecoderConfig(num_heads=1, query_residual=decoder_query_residual),
        **encoder,
    )


@register_preset("vision-learned")
def vision_learned(
    *,
    num_classes: int = 1000,
    labels: tuple[str, ...] = (),
    image_size: tuple[int, int] = (224, 224),
    in_channels: int = 3,
    conv_channels: int = 256,
    position_channels: int = 256,
    num_latents: int = 512,
    latent_dim: int = 1024,
    num_blocks: int = 8,
    num_layers: int = 6,
    num_self_heads: int = 8,
    num_cross_heads: int = 1,
    decoder_query_residual: bool = False,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """1×1 conv RGB → 256 ⊕ a learned 50176 × 256 table (projected 256 → 256) = 512 channels; 72.7% top-1.

    The official colab decodes without a query residual; HF's class hard-codes one (``from_transformers``
    turns it on).
    """
    image = ImageInputConfig(
        in_channels=in_channels,
        prep="conv1x1",
        out_channels=conv_channels,
        position_encoding="learned",
        image_size=as_pair("image_size", image_size),
        learned_channels=position_channels,
        project_pos_dim=position_channels,
    )
    return image_classifier(
        image,
        num_classes=num_classes,
        labels=labels,
        decoder_query_residual=decoder_query_residual,
        **encoder_arguments(locals()),
    )


@register_preset("vision-fourier")
def vision_fourier(
    *,
    num_classes: int = 1000,
    labels: tuple[str, ...] = (),
    in_channels: int = 3,
    num_bands: int = 64,
    max_resolution: tuple[int, int] = (224, 224),
    num_latents: int = 512,
    latent_dim: int = 1024,
    num_blocks: int = 8,
    num_layers: int = 6,
    num_self_heads: int = 8,
    num_cross_heads: int = 1,
    decoder_query_residual: bool = True,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """Raw pixels ⊕ 2-D Fourier features (64 bands, max resolution 224) = 261 channels; 79.0% top-1."""
    image = ImageInputConfig(
        in_channels=in_channels,
        prep="pixels",
        num_bands=num_bands,
        max_resolution=as_pair("max_resolution", max_resolution),
    )
    return image_classifier(
        image,
        num_classes=num_classes,
        labels=labels,
        decoder_query_residual=decoder_query_residual,
        **encoder_arguments(locals()),
    )


@register_preset("vision-conv")
def vision_conv(
    *,
    num_classes: int = 1000,
    labels: tuple[str, ...] = (),
    in_channels: int = 3,
    conv_channels: int = 64,
    num_bands: int = 64,
    max_resolution: tuple[int, int] = (56, 56),
    hf_conv_padding: bool = False,
    num_latents: int = 512,
    latent_dim: int = 1024,
    num_blocks: int = 8,
    num_layers: int = 6,
    num_self_heads: int = 8,
    num_cross_heads: int = 1,
    decoder_query_residual: bool = True,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """Conv 7×7/2 + BatchNorm + ReLU + max-pool 3×3/2 (224 → 56×56) ⊕ Fourier (max resolution 56) = 322; 82.1% top-1."""
    image = ImageInputConfig(
        in_channels=in_channels,
        prep="conv",
        spatial_downsample=4,
        out_channels=conv_channels,
        num_bands=num_bands,
        max_resolution=as_pair("max_resolution", max_resolution),
        hf_conv_padding=hf_conv_padding,
    )
    return image_classifier(
        image,
        num_classes=num_classes,
        labels=labels,
        decoder_query_residual=decoder_query_residual,
        **encoder_arguments(locals()),
    )
