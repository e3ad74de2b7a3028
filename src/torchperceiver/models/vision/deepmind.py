"""The three official ImageNet checkpoints (``imagenet_*.pystate``) → ``vision-learned``/``-fourier``/``-conv``.

Names from the ImageNet colab: ``ImagePreprocessor`` (``image_preprocessor``: ``conv2_d`` for conv1x1, the
learned table and its projector built in ``_build_network_inputs``, or the ``conv2_d_downsample`` stem with
its BatchNorm state), ``PerceiverEncoder`` and ``ClassificationDecoder``. docs/official-weights.md lists them.
"""

from __future__ import annotations

from torchperceiver.convert import deepmind as dm
from torchperceiver.core.model import PerceiverIO

_PREP = "image_preprocessor"
_DECODER = "classification_decoder/~/basic_decoder"


def _classifier(model: PerceiverIO) -> list[dm.Rule]:
    return [
        dm.Rule("output_adapter.query", f"{_DECODER}/~/trainable_position_encoding/pos_embs"),
        *dm.linear("output_adapter.head", f"{_DECODER}/output"),
        *dm.encoder(model),
        *dm.decoder(_DECODER),
    ]


@dm.register_deepmind_converter("vision-learned")
def vision_learned(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    positions = f"{_PREP}/~_build_network_inputs"
    rules = [
        dm.Rule("input_adapter.conv1x1.weight", f"{_PREP}/~/conv2_d/w", dm.conv2d_weight),
        dm.Rule("input_adapter.conv1x1.bias", f"{_PREP}/~/conv2_d/b"),
        dm.Rule("input_adapter.positions.table", f"{positions}/trainable_position_encoding/pos_embs"),
        *dm.linear("input_adapter.pos_proj", f"{positions}/position_encoding_projector/linear"),
        *_classifier(model),
    ]
    return dm.load_rules(model, flat, rules)


@dm.register_deepmind_converter("vision-fourier")
def vision_fourier(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    return dm.load_rules(model, flat, _classifier(model))


@dm.register_deepmind_converter("vision-conv")
def vision_conv(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    """The stem's ``Conv2DDownsample`` layers are ``conv``, ``conv_1``, … and ``batchnorm``, ``batchnorm_1``, …"""
    rules, stats, consumed = _classifier(model), {}, []
    stem_layers = len(model.input_adapter.stem.convs)  # type: ignore[union-attr,arg-type]
    for i in range(stem_layers):
        suffix = f"_{i}" if i else ""
        stem = f"{_PREP}/~/conv2_d_downsample/~"
        rules.append(dm.Rule(f"input_adapter.stem.convs.{i}.weight", f"{stem}/conv{suffix}/w", dm.conv2d_weight))
        stats.update(dm.batch_norm(f"input_adapter.stem.norms.{i}", f"{stem}/batchnorm{suffix}", flat))
        consumed += dm.batch_norm_sources(f"{stem}/batchnorm{suffix}")
    return dm.load_rules(model, flat, rules, extra=stats, consumed=consumed)
