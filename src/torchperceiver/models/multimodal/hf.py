"""HF ``PerceiverForMultimodalAutoencoding`` → torchperceiver (``multimodal_input`` / ``multimodal_output``).

Shapes are read from HF's modules rather than its config, so a model built with any config HF accepts
converts. HF applies its ``mask_probs`` in training and eval mode alike, so both of ours get them.
"""

from __future__ import annotations

from typing import Any

from torchperceiver.adapters.audio import AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.label import ClassificationOutputConfig, LabelInputConfig
from torchperceiver.adapters.multimodal import MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.adapters.video import VideoInputConfig, VideoOutputConfig
from torchperceiver.convert.hf import register_hf_converter
from torchperceiver.convert.hf_common import (
    State,
    assemble,
    decoder,
    unsupported,
)
from torchperceiver.core.checks import as_triple
from torchperceiver.core.model import PerceiverIO

MODALITIES = ("audio", "image", "label")  # the names HF's Kinetics model uses


def _fourier(what: str, encoding: Any) -> tuple[int, tuple[int, ...]]:
    """``(num_bands, max_resolution)`` of an HF Fourier position encoding of the layout we build."""
    if type(encoding).__name__ != "PerceiverFourierPositionEncoding":
        raise unsupported(f"{what} position encoding", "Fourier", type(encoding).__name__)
    if not encoding.concat_pos or encoding.sine_only:
        raise unsupported(
            f"{what} Fourier features", "concat_pos=True, sine_only=False", (encoding.concat_pos, encoding.sine_only)
        )
    return encoding.num_bands, tuple(encoding.max_resolution)


def _input(prep: Any) -> tuple[MultimodalInputConfig, State]:
    audio, image, label = (prep.modalities[name] for name in MODALITIES)
    if audio.concat_or_add_pos != "concat" or audio.project_pos_dim > 0:
        raise unsupported("audio preprocessor", "concatenated, unprojected positions", audio.concat_or_add_pos)
    if image.prep_type != "patches" or image.conv_after_patching or image.project_pos_dim > 0:
        raise unsupported("image preprocessor", "prep_type='patches' without conv or projection", image.prep_type)
    audio_bands, (audio_resolution,) = _fourier("audio input", audio.position_embeddings)
    image_bands, image_resolution = _fourier("image input", image.position_embeddings)
    probs = {name: float(prep.mask_probs.get(name, 0.0)) for name in MODALITIES}
    patch_size = (image.temporal_downsample, image.spatial_downsample, image.spatial_downsample)
    cfg = MultimodalInputConfig(
        modalities={
            "audio": AudioInputConfig(audio.samples_per_patch, audio_bands, audio_resolution),
            "image": VideoInputConfig(image.in_channels, patch_size, image_bands, as_triple("image", image_resolution)),
            "label": LabelInputConfig(label.num_channels),
        },
        mask_probs=probs,
        eval_mask_probs=probs,
        min_padding=prep.min_padding_size,
    )
    state = {}
    for name in MODALITIES:
        if name not in prep.mask:
            raise unsupported(f"input_preprocessor.mask_probs[{name!r}]", "a mask token for every modality", None)
        state[f"input_adapter.padding.{name}"] = prep.padding[name]
        state[f"input_adapter.mask_tokens.{name}"] = prep.mask[name]
    return cfg, state


def _output(decoder: Any, post: Any) -> tuple[MultimodalOutputConfig, State]:
    audio, image, label = (decoder.modalities[name] for name in MODALITIES)
    image = image.decoder  # PerceiverBasicVideoAutoencodingDecoder wraps a basic decoder
    label = label.decoder
    if label.position_encoding_type != "trainable":
        raise unsupported("label decoder position encoding", "'trainable'", label.position_encoding_type)
    audio_bands, (audio_resolution,) = _fourier("audio query", audio.output_position_encodings)
    image_bands, image_resolution = _fourier("image query", image.output_position_encodings)
    query = label.output_position_encodings.position_embeddings
    final = decoder.decoder.final_layer
    heads = {name: post.modalities[name].classifier.out_features for name in MODALITIES}
    width = final.out_features
    cfg = MultimodalOutputConfig(
        modalities={
            "audio": AudioOutputConfig(heads["audio"], audio_bands, audio_resolution, head_dim=width),
            "image": VideoOutputConfig(
                heads["image"], image_bands, as_triple("image", image_resolution), head_dim=width
            ),
            "label": ClassificationOutputConfig(heads["label"], query.shape[1], head_dim=width),
        },
        min_padding=decoder.min_padding_size,
        output_dim=width,
    )
    state = {
        "output_adapter.proj.weight": final.weight,
        "output_adapter.proj.bias": final.bias,
        "output_adapter.modalities.label.query": query,
    }
    for name in MODALITIES:
        state[f"output_adapter.padding.{name}"] = decoder.padding[name]
        head = post.modalities[name].classifier
        state[f"output_adapter.modalities.{name}.head.weight"] = head.weight
        state[f"output_adapter.modalities.{name}.head.bias"] = head.bias
    return cfg, state


@register_hf_converter("PerceiverForMultimodalAutoencoding")
def multimodal_autoencoding(hf_model: Any) -> PerceiverIO:
    perceiver = hf_model.perceiver
    input_cfg, state = _input(perceiver.input_preprocessor)
    output_cfg, output_state = _output(perceiver.decoder, perceiver.output_postprocessor)
    decoder_cfg, decoder_state = decoder(perceiver.decoder.decoder.decoding_cross_attention)
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})
