"""HF ``PerceiverForOpticalFlow`` → torchperceiver.

HF's model takes pre-extracted patches ``[B, 2, 27, H, W]`` and returns ``[B, H, W, 2]`` divided by 100;
the converted model takes the frames ``[B, 2, 3, H, W]`` (it extracts the same patches itself) and returns
flow ``[B, 2, H, W]`` in pixels, i.e. HF's output × 20.
"""

from __future__ import annotations

from typing import Any

from torchperceiver.convert.hf import register_hf_converter
from torchperceiver.convert.hf_common import (
    State,
    assemble,
    decoder,
    unsupported,
)
from torchperceiver.core.config import DecoderConfig
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.flow.adapters import PATCH_VALUES, FlowInputConfig, FlowOutputConfig
from torchperceiver.models.flow.presets import DEFAULT_CHUNK_SIZE

# The official colab turns the model's output (flow / 100) into pixels by multiplying by 20.
COLAB_PIXEL_FACTOR = 20.0


def _check_preprocessor(prep: Any) -> Any:
    """The settings ``PerceiverForOpticalFlow`` hard-codes; anything else is not the released model."""
    expected = {
        "prep_type": "patches",
        "spatial_downsample": 1,
        "temporal_downsample": 2,
        "conv_after_patching": True,
        "position_encoding_type": "fourier",
        "concat_or_add_pos": "concat",
    }
    for name, value in expected.items():
        if getattr(prep, name) != value:
            raise unsupported(f"input_preprocessor.{name}", repr(value), getattr(prep, name))
    if prep.conv_after_patches.in_features != PATCH_VALUES:
        raise unsupported("conv_after_patches.in_features", str(PATCH_VALUES), prep.conv_after_patches.in_features)
    fourier = prep.position_embeddings
    if not fourier.concat_pos or fourier.sine_only:
        raise unsupported(
            "Fourier features", "concat_pos=True, sine_only=False", (fourier.concat_pos, fourier.sine_only)
        )
    return fourier


def _flow_input(prep: Any, train_size: tuple[int, int]) -> tuple[FlowInputConfig, State]:
    fourier = _check_preprocessor(prep)
    if tuple(fourier.max_resolution) != train_size:
        raise unsupported("Fourier max_resolution", f"train_size {train_size}", tuple(fourier.max_resolution))
    cfg = FlowInputConfig(
        train_size=train_size, num_bands=fourier.num_bands, patch_dim=prep.conv_after_patches.out_features
    )
    state = {
        "input_adapter.patch_proj.weight": prep.conv_after_patches.weight,
        "input_adapter.patch_proj.bias": prep.conv_after_patches.bias,
    }
    return cfg, state


def _flow_decoder(hf_decoder: Any) -> tuple[DecoderConfig, FlowOutputConfig, State]:
    basic = hf_decoder.decoder
    if basic.concat_preprocessed_input or not basic.final_project:
        got = (basic.concat_preprocessed_input, basic.final_project)
        raise unsupported("flow decoder (concat_preprocessed_input, final_project)", "(False, True)", got)
    decoder_cfg, state = decoder(basic.decoding_cross_attention, chunk_size=DEFAULT_CHUNK_SIZE)
    output_cfg = FlowOutputConfig(
        query_dim=basic.final_layer.in_features, pixel_scale=COLAB_PIXEL_FACTOR / hf_decoder.rescale_factor
    )
    state["output_adapter.head.weight"] = basic.final_layer.weight
    state["output_adapter.head.bias"] = basic.final_layer.bias
    return decoder_cfg, output_cfg, state


@register_hf_converter("PerceiverForOpticalFlow")
def optical_flow(hf_model: Any) -> PerceiverIO:
    c = hf_model.config
    train_size = tuple(c.train_size)
    hf_decoder = hf_model.perceiver.decoder
    if tuple(hf_decoder.output_image_shape) != train_size:
        raise unsupported("decoder output_image_shape", f"train_size {train_size}", hf_decoder.output_image_shape)
    input_cfg, state = _flow_input(hf_model.perceiver.input_preprocessor, train_size)
    decoder_cfg, output_cfg, decoder_state = _flow_decoder(hf_decoder)
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, {**state, **decoder_state})
