"""The official masked-LM checkpoint (``language_perceiver_io_bytes.pickle``) → the ``language-mlm`` preset.

Names from the MLM colab: ``hk.Embed`` (``embed``) and a ``TrainablePositionEncoding`` built at the top level,
``PerceiverEncoder`` (``perceiver_encoder``), ``BasicDecoder`` (``basic_decoder``, ``final_project=False``)
and ``EmbeddingDecoder`` (``embedding_decoder/bias``). docs/official-weights.md lists them.
"""

from __future__ import annotations

from torchperceiver.convert import deepmind as dm
from torchperceiver.core.model import PerceiverIO


@dm.register_deepmind_converter("language-mlm")
def language_mlm(model: PerceiverIO, flat: dm.Flat) -> PerceiverIO:
    rules = [
        dm.Rule("input_adapter.token_embedding.weight", "embed/embeddings"),
        dm.Rule("input_adapter.position_embedding.table", "trainable_position_encoding/pos_embs"),
        dm.Rule("output_adapter.position_queries.table", "basic_decoder/~/trainable_position_encoding/pos_embs"),
        dm.Rule("output_adapter.bias", "embedding_decoder/bias"),
        *dm.encoder(model),
        *dm.decoder("basic_decoder"),
    ]
    return dm.load_rules(model, flat, rules)
