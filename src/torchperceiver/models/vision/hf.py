"""HF ``PerceiverForImageClassification{Learned,Fourier,ConvProcessing}`` → torchperceiver.

One converter reads whatever ``PerceiverImagePreprocessor`` the model holds. Where HF differs from the
official code, the converted model copies HF (docs/hf-differences.md): its conv stem always has exactly
one layer and HF's padding (``hf_conv_padding``), and the learned-position class keeps HF's query residual.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from torchperceiver.adapters.image import ImageInputConfig
from torchperceiver.convert.hf import register_hf_converter
from torchperceiver.convert.hf_common import State, assemble, classification_decoder, classification_output, unsupported
from torchperceiver.core.model import PerceiverIO

_BATCHNORM_STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _prep_state(prep: Any) -> State:
    """Weights of the feature extractor (conv1x1, the conv stem, or the linear layer after patching)."""
    if prep.prep_type == "conv1x1":
        conv = prep.convnet_1x1
        return {"input_adapter.conv1x1.weight": conv.weight, "input_adapter.conv1x1.bias": conv.bias}
    if prep.prep_type == "conv":
        stem = prep.convnet
        if not isinstance(stem.batchnorm, nn.BatchNorm2d):
            raise unsupported("conv preprocessing without batchnorm", "a BatchNorm2d", type(stem.batchnorm).__name__)
        bn = stem.batchnorm.state_dict()
        state = {"input_adapter.stem.convs.0.weight": stem.conv.weight}
        state.update({f"input_adapter.stem.norms.0.{k}": bn[k] for k in _BATCHNORM_STATE})
        return state
    if prep.prep_type == "patches" and prep.conv_after_patching:
        proj = prep.conv_after_patches
        return {"input_adapter.patch_proj.weight": proj.weight, "input_adapter.patch_proj.bias": proj.bias}
    return {}


def _image_input(hf_model: Any) -> tuple[ImageInputConfig, State]:
    prep = hf_model.perceiver.input_preprocessor
    if prep.concat_or_add_pos != "concat":
        raise unsupported("image preprocessor concat_or_add_pos", "'concat'", prep.concat_or_add_pos)
    ds = prep.spatial_downsample
    if prep.prep_type == "pixels" and ds != 1:
        # HF slices the batch and channel axes instead of height and width here.
        raise unsupported("pixels spatial_downsample", "1 (HF downsamples the wrong axes otherwise)", ds)
    if prep.prep_type == "conv":
        ds = 4  # HF's conv stem has one layer whatever spatial_downsample says
    pos = prep.position_embeddings
    project = prep.project_pos_dim if prep.project_pos_dim > 0 else None
    state = _prep_state(prep)
    if prep.position_encoding_type == "trainable":
        size = hf_model.config.image_size
        positions = dict(
            position_encoding="learned", image_size=(size, size), learned_channels=pos.position_embeddings.shape[1]
        )
        state["input_adapter.positions.table"] = pos.position_embeddings
    else:
        positions = dict(
            num_bands=pos.num_bands,
            max_resolution=tuple(pos.max_resolution),
            concat_pos=pos.concat_pos,
            sine_only=pos.sine_only,
        )
    if project is not None:
        proj = prep.positions_projection
        state.update({"input_adapter.pos_proj.weight": proj.weight, "input_adapter.pos_proj.bias": proj.bias})
    cfg = ImageInputConfig(
        in_channels=prep.in_channels,
        prep=prep.prep_type,
        spatial_downsample=ds,
        out_channels=prep.out_channels,
        conv_after_patching=prep.conv_after_patching,
        project_pos_dim=project,
        hf_conv_padding=prep.prep_type == "conv",
        **positions,
    )
    return cfg, state


@register_hf_converter(
    "PerceiverForImageClassificationConvProcessing",
    "PerceiverForImageClassificationFourier",
    "PerceiverForImageClassificationLearned",
)
def image_classification(hf_model: Any) -> PerceiverIO:
    input_cfg, state = _image_input(hf_model)
    output_cfg, output_state = classification_output(hf_model.perceiver.decoder, hf_model.config.num_labels)
    decoder_cfg, decoder_state = classification_decoder(hf_model.perceiver.decoder)
    return assemble(hf_model, input_cfg, output_cfg, decoder_cfg, {**state, **output_state, **decoder_state})
