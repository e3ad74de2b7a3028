"""A small Fourier-feature image classifier for CPU demos (Fashion-MNIST): no convolution anywhere.

The image is cut into space-to-depth ``patch_size × patch_size`` blocks (28×28 grey, 4×4 → 49 positions of
16 values), each block optionally mapped by a linear layer, and 2-D Fourier features of the block grid are
concatenated, as ``vision-fourier`` does with single pixels. Few input positions keep the cross-attention
cheap, so a CPU sees many more images per minute than with one position per pixel.
"""

from __future__ import annotations

from torchperceiver.adapters.image import ImageInputConfig
from torchperceiver.core.checks import as_pair
from torchperceiver.core.layers import Activation
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.vision.presets import image_classifier
from torchperceiver.presets import encoder_arguments, register_preset


@register_preset("vision-small")
def vision_small(
    *,
    num_classes: int = 10,
    labels: tuple[str, ...] = (),
    image_size: tuple[int, int] = (28, 28),
    in_channels: int = 1,
    patch_size: int = 4,
    patch_dim: int | None = 64,
    num_bands: int = 8,
    num_latents: int = 32,
    latent_dim: int = 128,
    num_blocks: int = 1,
    num_layers: int = 4,
    num_self_heads: int = 4,
    num_cross_heads: int = 1,
    decoder_query_residual: bool = True,
    activation: Activation = "gelu",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """``image_size`` images in ``patch_size`` blocks (``patch_dim``: width of the linear layer on each block,
    None: the raw block values) ⊕ Fourier features of the block grid → ``num_classes`` logits."""
    height, width = as_pair("image_size", image_size)
    if height % patch_size or width % patch_size:
        raise ValueError(f"image_size: expected multiples of patch_size={patch_size}, got {height}×{width}")
    image = ImageInputConfig(
        in_channels=in_channels,
        prep="patches",
        spatial_downsample=patch_size,
        conv_after_patching=patch_dim is not None,
        out_channels=patch_dim or in_channels * patch_size**2,
        num_bands=num_bands,
        max_resolution=(height // patch_size, width // patch_size),
    )
    return image_classifier(
        image,
        num_classes=num_classes,
        labels=labels,
        decoder_query_residual=decoder_query_residual,
        **encoder_arguments(locals()),
    )
