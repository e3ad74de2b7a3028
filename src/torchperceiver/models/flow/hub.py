"""HF hub repos of ``PerceiverForOpticalFlow`` (no ``transformers``): frames in, flow in pixels out."""

from __future__ import annotations

from types import SimpleNamespace

from torchperceiver.convert import hub
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.flow.adapters import FlowInputConfig, FlowOutputConfig
from torchperceiver.models.flow.hf import COLAB_PIXEL_FACTOR
from torchperceiver.models.flow.presets import DEFAULT_CHUNK_SIZE

_RESCALE_FACTOR = 100.0  # HF's PerceiverForOpticalFlow hard-codes the official decoder's divisor


@hub.register_hub_reader("PerceiverForOpticalFlow")
def optical_flow(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    state = weights.rename(
        [
            ("input_adapter.patch_proj.weight", "perceiver.input_preprocessor.conv_after_patches.weight"),
            ("input_adapter.patch_proj.bias", "perceiver.input_preprocessor.conv_after_patches.bias"),
            ("output_adapter.head.weight", "perceiver.decoder.decoder.final_layer.weight"),
            ("output_adapter.head.bias", "perceiver.decoder.decoder.final_layer.bias"),
        ]
    )
    input_cfg = FlowInputConfig(
        train_size=tuple(c.train_size), num_bands=64, patch_dim=state["input_adapter.patch_proj.weight"].shape[0]
    )
    output_cfg = FlowOutputConfig(
        query_dim=state["output_adapter.head.weight"].shape[1], pixel_scale=COLAB_PIXEL_FACTOR / _RESCALE_FACTOR
    )
    decoder_cfg, decoder_state = hub.decoder(
        weights,
        "perceiver.decoder.decoder.decoding_cross_attention",
        num_heads=1,
        query_residual=False,
        chunk_size=DEFAULT_CHUNK_SIZE,
    )
    return hub.assemble(c, weights, input_cfg, output_cfg, decoder_cfg, {**state, **decoder_state})
