"""The Kinetics-700 multimodal autoencoder (DESIGN §3, paper §4.3, official video-autoencoding colab)."""

from __future__ import annotations

from torchperceiver.adapters.audio import AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.label import ClassificationOutputConfig, LabelInputConfig
from torchperceiver.adapters.multimodal import MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.adapters.video import VideoInputConfig, VideoOutputConfig
from torchperceiver.core.checks import as_triple
from torchperceiver.core.config import DecoderConfig
from torchperceiver.core.layers import Activation
from torchperceiver.core.model import PerceiverIO
from torchperceiver.presets import perceiver, register_preset

VIDEO_PATCH = (1, 4, 4)
SAMPLES_PER_PATCH = 16


@register_preset("multimodal-ae")
def multimodal_ae(
    *,
    num_latents: int = 784,
    latent_dim: int = 512,
    num_layers: int = 8,
    num_self_heads: int = 8,
    num_cross_heads: int = 1,
    qk_channels: int | None = None,
    v_channels: int | None = None,
    num_frames: int = 16,
    image_size: tuple[int, int] = (224, 224),
    num_samples: int = 30720,
    samples_per_patch: int = SAMPLES_PER_PATCH,
    video_patch: tuple[int, int, int] = VIDEO_PATCH,
    num_classes: int = 700,
    labels: tuple[str, ...] = (),
    audio_num_bands: int = 192,
    image_num_bands: int = 32,
    label_query_dim: int = 1024,
    output_dim: int = 512,
    label_mask_prob: float = 0.5,
    eval_label_mask_prob: float = 1.0,
    decoder_chunk_size: int | None = None,
    activation: Activation = "gelu_tanh",
    attention_dropout: float = 0.0,
    activation_checkpointing: bool = False,
) -> PerceiverIO:
    """Video + audio + label autoencoder: ``model({"audio", "image", "label"}, subsampled_points=...)``.

    ``num_latents`` 784 / 392 / 196 gives the paper's 88× / 176× / 352× compression. ``num_frames``,
    ``image_size`` and ``num_samples`` set the Fourier features' maximum resolution, the grid the model is
    trained on: the patch grid (16, 56, 56) for video, the sample count for audio. ``label_mask_prob`` is the
    chance the label is replaced by its mask token in training (paper: 0.5), ``eval_label_mask_prob`` in
    eval mode (official colab and HF: 1.0, so the label is predicted from video and audio alone).
    ``samples_per_patch``: audio samples per input position and per output query (released: 16).
    ``video_patch``: (frames, rows, columns) of the video's input patches (released: 1×4×4). Larger patches
    mean fewer video positions competing with the audio for the latents' attention (docs/multimodal.md); the
    pixel queries keep the Fourier resolution of the 1×4×4 grid, as released.
    ``qk_channels``/``v_channels`` set the encoder's attention widths (``None``: the official defaults, the
    input width 704 for the cross-attention); a smaller one lets ``num_cross_heads`` divide it.
    """
    video_patch = as_triple("video_patch", video_patch)
    size = (num_frames, *image_size)
    grid = _patch_grid(size, VIDEO_PATCH)
    input_grid = _patch_grid(size, video_patch)
    inputs = MultimodalInputConfig(
        modalities={
            "audio": AudioInputConfig(samples_per_patch, audio_num_bands, num_samples),
            "image": VideoInputConfig(3, video_patch, image_num_bands, input_grid),
            "label": LabelInputConfig(num_classes),
        },
        mask_probs={"label": label_mask_prob},
        eval_mask_probs={"label": eval_label_mask_prob},
        min_padding=4,
    )
    outputs = MultimodalOutputConfig(
        modalities={
            "audio": AudioOutputConfig(samples_per_patch, audio_num_bands, num_samples, head_dim=output_dim),
            "image": VideoOutputConfig(3, image_num_bands, grid, head_dim=output_dim),
            "label": ClassificationOutputConfig(
                num_classes, label_query_dim, head_dim=output_dim, labels=tuple(labels)
            ),
        },
        min_padding=2,
        output_dim=output_dim,
    )
    return perceiver(
        inputs,
        outputs,
        num_latents=num_latents,
        latent_dim=latent_dim,
        num_layers=num_layers,
        num_self_heads=num_self_heads,
        num_cross_heads=num_cross_heads,
        qk_channels=qk_channels,
        v_channels=v_channels,
        decoder=DecoderConfig(num_heads=1, query_residual=False, chunk_size=decoder_chunk_size),
        activation=activation,
        attention_dropout=attention_dropout,
        activation_checkpointing=activation_checkpointing,
    )


def _patch_grid(size: tuple[int, ...], patch: tuple[int, int, int]) -> tuple[int, int, int]:
    """(frames, rows, columns) of ``patch``-sized blocks in a ``size`` (frames, height, width) video."""
    if any(n % p for n, p in zip(size, patch, strict=True)):
        raise ValueError(
            f"num_frames, image_size: expected multiples of the {'×'.join(map(str, patch))} video patch, got "
            f"{size[0]} frames of {size[1]}×{size[2]}"
        )
    frames, rows, columns = (n // p for n, p in zip(size, patch, strict=True))
    return frames, rows, columns
