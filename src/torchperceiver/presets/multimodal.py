"""The Kinetics-700 multimodal autoencoder (DESIGN §3, paper §4.3, official video-autoencoding colab)."""

from __future__ import annotations

from torchperceiver.adapters.multimodal import MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.core.layers import Activation, BlockSettings
from torchperceiver.core.model import DecoderConfig, EncoderConfig, PerceiverConfig, PerceiverIO

VIDEO_PATCH = (1, 4, 4)


def multimodal_ae(
    *,
    num_latents: int = 784,
    latent_dim: int = 512,
    num_layers: int = 8,
    num_self_heads: int = 8,
    num_frames: int = 16,
    image_size: tuple[int, int] = (224, 224),
    num_samples: int = 30720,
    num_classes: int = 700,
    label_mask_prob: float = 0.5,
    eval_label_mask_prob: float = 1.0,
    decoder_chunk_size: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
) -> PerceiverIO:
    """Video + audio + label autoencoder: ``model({"audio", "image", "label"}, subsampled_points=...)``.

    ``num_latents`` 784 / 392 / 196 gives the paper's 88× / 176× / 352× compression. ``num_frames``,
    ``image_size`` and ``num_samples`` set the Fourier features' maximum resolution, the grid the model is
    trained on: the patch grid (16, 56, 56) for video, the sample count for audio. ``label_mask_prob`` is the
    chance the label is replaced by its mask token in training (paper: 0.5), ``eval_label_mask_prob`` in
    eval mode (official colab and HF: 1.0, so the label is predicted from video and audio alone).
    """
    height, width = image_size
    _, patch_h, patch_w = VIDEO_PATCH
    if height % patch_h or width % patch_w:
        raise ValueError(f"image_size: expected multiples of the {patch_h}×{patch_w} patch, got {tuple(image_size)}")
    image_resolution = (num_frames, height // patch_h, width // patch_w)
    return PerceiverIO(
        PerceiverConfig(
            input_adapter=MultimodalInputConfig(
                audio_max_resolution=num_samples,
                patch_size=VIDEO_PATCH,
                image_max_resolution=image_resolution,
                num_classes=num_classes,
                mask_probs=(0.0, 0.0, label_mask_prob),
                eval_mask_probs=(0.0, 0.0, eval_label_mask_prob),
            ),
            output_adapter=MultimodalOutputConfig(
                audio_max_resolution=num_samples, image_max_resolution=image_resolution, num_classes=num_classes
            ),
            encoder=EncoderConfig(
                num_latents=num_latents,
                latent_dim=latent_dim,
                num_blocks=1,
                num_self_attends_per_block=num_layers,
                num_cross_heads=1,
                num_self_heads=num_self_heads,
            ),
            decoder=DecoderConfig(num_heads=1, query_residual=False, chunk_size=decoder_chunk_size),
            block=BlockSettings(activation=activation, attention_dropout=attention_dropout),
        )
    )


PRESETS = {"multimodal-ae": multimodal_ae}
