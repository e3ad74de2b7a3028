"""The official optical-flow checkpoint (``optical_flow_checkpoint.pystate``) → the ``optical-flow`` preset.

Names from the flow colab: ``ImagePreprocessor`` with ``conv_after_patching`` (``image_preprocessor/
patches_linear``), ``PerceiverEncoder`` (``perceiver_encoder``) and ``FlowDecoder`` wrapping a
``BasicDecoder`` (``flow_decoder/~/basic_decoder``). docs/official-weights.md lists them.
"""

from __future__ import annotations

from torchperceiver.convert import deepmind as dm
from torchperceiver.core.model import PerceiverIO

_DECODER = "flow_decoder/~/basic_decoder"


@dm.register_deepmind_converter("optical-flow")
def optical_flow(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    rules = [
        *dm.linear("input_adapter.patch_proj", "image_preprocessor/patches_linear"),
        *dm.linear("output_adapter.head", f"{_DECODER}/output"),
        *dm.encoder(model),
        *dm.decoder(_DECODER),
    ]
    return dm.load_rules(model, flat, rules)
