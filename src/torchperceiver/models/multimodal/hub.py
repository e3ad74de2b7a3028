"""HF hub repos of ``PerceiverForMultimodalAutoencoding`` (no ``transformers``).

HF's class hard-codes the Kinetics model's layout (audio, image, label; 192 and 32 Fourier bands; 1×4×4
video patches; paddings 4 and 2; the label always masked) and reads the sizes from its config.
"""

from __future__ import annotations

from types import SimpleNamespace

from torchperceiver.adapters.audio import AudioInputConfig, AudioOutputConfig
from torchperceiver.adapters.label import ClassificationOutputConfig, LabelInputConfig
from torchperceiver.adapters.multimodal import MultimodalInputConfig, MultimodalOutputConfig
from torchperceiver.adapters.video import VideoInputConfig, VideoOutputConfig
from torchperceiver.convert import hub
from torchperceiver.core.model import PerceiverIO

MODALITIES = ("audio", "image", "label")
_HF_MASK_PROBS = {"audio": 0.0, "image": 0.0, "label": 1.0}  # applied by HF in training and eval alike
_POST = "perceiver.output_postprocessor.modalities"


@hub.register_hub_reader("PerceiverForMultimodalAutoencoding")
def multimodal_autoencoding(c: SimpleNamespace, weights: hub.Weights) -> PerceiverIO:
    samples = c.num_frames * c.audio_samples_per_frame
    video = (c.num_frames, c.image_size, c.image_size)
    width = c.output_num_channels
    input_cfg = MultimodalInputConfig(
        modalities={
            "audio": AudioInputConfig(samples_per_patch=c.samples_per_patch, num_bands=192, max_resolution=samples),
            "image": VideoInputConfig(patch_size=(1, 4, 4), num_bands=32, max_resolution=video),
            "label": LabelInputConfig(num_classes=c.num_labels),
        },
        mask_probs=dict(_HF_MASK_PROBS),
        eval_mask_probs=dict(_HF_MASK_PROBS),
        min_padding=4,
    )
    label_query = weights.take(
        "perceiver.decoder.modalities.label.decoder.output_position_encodings.position_embeddings"
    )
    output_cfg = MultimodalOutputConfig(
        modalities={
            "audio": AudioOutputConfig(
                samples_per_patch=c.samples_per_patch, num_bands=192, max_resolution=samples, head_dim=width
            ),
            "image": VideoOutputConfig(out_channels=3, num_bands=32, max_resolution=video, head_dim=width),
            "label": ClassificationOutputConfig(
                num_classes=c.num_labels, query_dim=label_query.shape[1], head_dim=width
            ),
        },
        min_padding=2,
        output_dim=width,
    )
    pairs = [
        ("output_adapter.proj.weight", "perceiver.decoder.decoder.final_layer.weight"),
        ("output_adapter.proj.bias", "perceiver.decoder.decoder.final_layer.bias"),
    ]
    for name in MODALITIES:
        pairs += [
            (f"input_adapter.padding.{name}", f"perceiver.input_preprocessor.padding.{name}"),
            (f"input_adapter.mask_tokens.{name}", f"perceiver.input_preprocessor.mask.{name}"),
            (f"output_adapter.padding.{name}", f"perceiver.decoder.padding.{name}"),
            (f"output_adapter.modalities.{name}.head.weight", f"{_POST}.{name}.classifier.weight"),
            (f"output_adapter.modalities.{name}.head.bias", f"{_POST}.{name}.classifier.bias"),
        ]
    state = {**weights.rename(pairs), "output_adapter.modalities.label.query": label_query}
    decoder_cfg, decoder_state = hub.decoder(
        weights, "perceiver.decoder.decoder.decoding_cross_attention", num_heads=1, query_residual=False
    )
    return hub.assemble(c, weights, input_cfg, output_cfg, decoder_cfg, {**state, **decoder_state})
