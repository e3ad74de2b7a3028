"""The official video-autoencoding checkpoint (``video_autoencoding_checkpoint.pystate``) → ``multimodal-ae``.

Names from the video-autoencoding colab: ``MultimodalPreprocessor`` (per-modality ``*_padding`` and
``*_mask_token`` built in ``__call__``), ``PerceiverEncoder`` named ``encoder``, ``MultimodalDecoder`` (its
paddings built in ``decoder_query``: ``multimodal_decoder/~decoder_query/``), the label query of the
``ClassificationDecoder`` and the three postprocessors' linears. docs/official-weights.md lists them.
"""

from __future__ import annotations

from torchperceiver.convert import deepmind as dm
from torchperceiver.core.model import PerceiverIO

_POSTPROCESSORS = {
    "audio": "audio_postprocessor",
    "image": "projection_postprocessor",
    "label": "classification_postprocessor",
}


@dm.register_deepmind_converter("multimodal-ae")
def multimodal_ae(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    rules = [
        dm.Rule(
            "output_adapter.modalities.label.query",
            "classification_decoder/~/basic_decoder/~/trainable_position_encoding/pos_embs",
        ),
        *dm.linear("output_adapter.proj", "multimodal_decoder/~/basic_decoder/output"),
        *dm.encoder(model, scope="encoder"),
        *dm.decoder("multimodal_decoder/~/basic_decoder"),
    ]
    for name, post in _POSTPROCESSORS.items():
        rules += [
            dm.Rule(f"input_adapter.padding.{name}", f"multimodal_preprocessor/{name}_padding/pos_embs"),
            dm.Rule(f"input_adapter.mask_tokens.{name}", f"multimodal_preprocessor/{name}_mask_token/pos_embs"),
            dm.Rule(f"output_adapter.padding.{name}", f"multimodal_decoder/~decoder_query/{name}_padding/pos_embs"),
            *dm.linear(f"output_adapter.modalities.{name}.head", f"{post}/linear"),
        ]
    return dm.load_rules(model, flat, rules)
