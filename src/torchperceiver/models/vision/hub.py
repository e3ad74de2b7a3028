"""HF hub repos of the three ``PerceiverForImageClassification*`` classes (no ``transformers``).

Each class hard-codes its preprocessor; the settings below are those, and the HF-compatible switches
``from_transformers`` uses (HF's conv padding, the learned model's query residual) are set the same way.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from torchperceiver.adapters.image import ImageInputConfig
from torchperceiver.convert import hub
from torchperceiver.core.model import PerceiverIO

_PREP = "perceiver.input_preprocessor"
_BATCHNORM = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _classifier(c: SimpleNamespace, weights: hub.Weights, input_cfg: ImageInputConfig, state: hub.State) -> PerceiverIO:
    output_cfg, output_state = hub.classification_output(c, weights)
    decoder_cfg, decoder_state = hub.decoder(
        weights, "perceiver.decoder.decoder.decoding_cross_attention", num_heads=1, query_residual=True
    )
    return hub.assemble(c, weights, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})


def _fourier(max_resolution: tuple[int, int]) -> dict[str, Any]:
    return dict(num_bands=64, max_resolution=max_resolution, concat_pos=True, sine_only=False)


@hub.register_hub_reader("PerceiverForImageClassificationLearned")
def learned(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    table = weights.take(f"{_PREP}.position_embeddings.position_embeddings")
    cfg = ImageInputConfig(
        prep="conv1x1",
        out_channels=256,
        position_encoding="learned",
        image_size=(c.image_size, c.image_size),
        learned_channels=table.shape[1],
        project_pos_dim=256,
    )
    state = weights.rename(
        [
            ("input_adapter.conv1x1.weight", f"{_PREP}.convnet_1x1.weight"),
            ("input_adapter.conv1x1.bias", f"{_PREP}.convnet_1x1.bias"),
            ("input_adapter.pos_proj.weight", f"{_PREP}.positions_projection.weight"),
            ("input_adapter.pos_proj.bias", f"{_PREP}.positions_projection.bias"),
        ]
    )
    return _classifier(c, weights, cfg, {**state, "input_adapter.positions.table": table})


@hub.register_hub_reader("PerceiverForImageClassificationFourier")
def fourier(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    return _classifier(c, weights, ImageInputConfig(prep="pixels", **_fourier((224, 224))), {})


@hub.register_hub_reader("PerceiverForImageClassificationConvProcessing")
def conv(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    """HF's stem: one conv layer with HF's padding (``hf_conv_padding``), whatever ``spatial_downsample`` says."""
    cfg = ImageInputConfig(prep="conv", spatial_downsample=4, hf_conv_padding=True, **_fourier((56, 56)))
    pairs = [("input_adapter.stem.convs.0.weight", f"{_PREP}.convnet.conv.weight")]
    pairs += [(f"input_adapter.stem.norms.0.{k}", f"{_PREP}.convnet.batchnorm.{k}") for k in _BATCHNORM]
    return _classifier(c, weights, cfg, weights.rename(pairs))
