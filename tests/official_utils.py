"""Synthetic official (Haiku) parameter trees, and HF's rules for renaming them, for the DeepMind converter tests.

The module and parameter names follow DeepMind's code (perceiver.py, io_processors.py, position_encoding.py,
the four colabs) and Haiku's naming (a module built in ``__init__`` is ``parent/~/child``, in ``__call__``
``parent/child``, in another method ``parent/~method/child``; repeats get ``_1``, ``_2``). ``hf_state`` renames
a tree the way transformers' ``convert_perceiver_haiku_to_pytorch.py`` does, written here independently of
``torchperceiver.convert.deepmind``. See docs/official-weights.md.
"""

from __future__ import annotations

import numpy as np
import torch

TOL = 1e-5

Tree = dict[str, dict[str, np.ndarray]]


class TreeBuilder:
    """Random arrays at official names: linears ``w [in, out]``, ``b [out]``; LayerNorm ``scale``/``offset``."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.tree: Tree = {}

    def array(self, module: str, name: str, shape: tuple[int, ...], scale: float = 1.0) -> None:
        value = (scale * self.rng.standard_normal(shape)).astype(np.float32)
        self.tree.setdefault(module, {})[name] = value

    def linear(self, module: str, n_in: int, n_out: int, bias: bool = True) -> None:
        self.array(module, "w", (n_in, n_out), 1 / np.sqrt(n_in))
        if bias:
            self.array(module, "b", (n_out,), 0.1)

    def layer_norm(self, module: str, dim: int) -> None:
        self.tree[module] = {
            "scale": (1 + 0.1 * self.rng.standard_normal(dim)).astype(np.float32),
            "offset": (0.1 * self.rng.standard_normal(dim)).astype(np.float32),
        }

    def position(self, module: str, n: int, channels: int) -> None:
        """A ``TrainablePositionEncoding``: ``pos_embs [n, channels]``."""
        self.array(module, "pos_embs", (n, channels))

    def attention_block(self, scope: str, q_dim: int, kv_dim: int, qk: int, v: int, widening: int, cross: bool) -> None:
        """``CrossAttention`` (norms ``layer_norm``, ``_1``, ``_2``) or ``SelfAttention`` (``layer_norm``, ``_1``)."""
        self.layer_norm(f"{scope}/layer_norm", q_dim)
        if cross:
            self.layer_norm(f"{scope}/layer_norm_1", kv_dim)
        for name, n_in, n_out in (
            ("linear", q_dim, qk),
            ("linear_1", kv_dim, qk),
            ("linear_2", kv_dim, v),
            ("linear_3", v, q_dim),
        ):
            self.linear(f"{scope}/attention/{name}", n_in, n_out)
        self.layer_norm(f"{scope}/layer_norm_{2 if cross else 1}", q_dim)
        self.linear(f"{scope}/mlp/linear", q_dim, q_dim * widening)
        self.linear(f"{scope}/mlp/linear_1", q_dim * widening, q_dim)

    def encoder(
        self,
        scope: str,
        input_dim: int,
        num_latents: int,
        latent_dim: int,
        num_self: int,
        cross_qk: int | None = None,
        cross_v: int | None = None,
        self_qk: int | None = None,
        self_v: int | None = None,
    ) -> None:
        """``PerceiverEncoder``: defaults as ``Attention`` resolves them (cross: kv width; self: latent width)."""
        self.position(f"{scope}/~/trainable_position_encoding", num_latents, latent_dim)
        qk = cross_qk or input_dim
        self.attention_block(f"{scope}/~/cross_attention", latent_dim, input_dim, qk, cross_v or qk, 1, cross=True)
        for i in range(num_self):
            name = f"{scope}/~/self_attention" + (f"_{i}" if i else "")
            sqk = self_qk or latent_dim
            self.attention_block(name, latent_dim, latent_dim, sqk, self_v or sqk, 1, cross=False)

    def decoder(self, scope: str, query_dim: int, latent_dim: int, qk: int | None = None, v: int | None = None) -> None:
        """``BasicDecoder``'s cross-attention (built in ``__call__``): qk defaults to the latent width."""
        qk = qk or latent_dim
        self.attention_block(f"{scope}/cross_attention", query_dim, latent_dim, qk, v or qk, 1, cross=True)


# ---------------------------------------------------------------------------------------------------------
# HF's renaming rules (the facts of convert_perceiver_haiku_to_pytorch.py, in our own words)

_HF_PREFIXES = [  # official module prefix → HF module prefix, most specific first
    ("embed/embeddings", "perceiver.input_preprocessor.embeddings.weight"),
    ("trainable_position_encoding/pos_embs", "perceiver.input_preprocessor.position_embeddings.weight"),
    ("image_preprocessor/~/conv2_d/", "perceiver.input_preprocessor.convnet_1x1."),
    (
        "image_preprocessor/~_build_network_inputs/trainable_position_encoding/pos_embs",
        "perceiver.input_preprocessor.position_embeddings.position_embeddings",
    ),
    (
        "image_preprocessor/~_build_network_inputs/position_encoding_projector/linear/",
        "perceiver.input_preprocessor.positions_projection.",
    ),
    ("image_preprocessor/~/conv2_d_downsample/~/conv/", "perceiver.input_preprocessor.convnet.conv."),
    (
        "image_preprocessor/~/conv2_d_downsample/~/batchnorm/~/mean_ema/average",
        "perceiver.input_preprocessor.convnet.batchnorm.running_mean",
    ),
    (
        "image_preprocessor/~/conv2_d_downsample/~/batchnorm/~/var_ema/average",
        "perceiver.input_preprocessor.convnet.batchnorm.running_var",
    ),
    ("image_preprocessor/~/conv2_d_downsample/~/batchnorm/", "perceiver.input_preprocessor.convnet.batchnorm."),
    ("image_preprocessor/patches_linear/", "perceiver.input_preprocessor.conv_after_patches."),
    ("multimodal_preprocessor/", "perceiver.input_preprocessor."),
    ("multimodal_decoder/~decoder_query/", "perceiver.decoder.padding."),
    ("multimodal_decoder/~/basic_decoder/cross_attention/", "perceiver.decoder.decoder.decoding_cross_attention."),
    ("multimodal_decoder/~/basic_decoder/output/", "perceiver.decoder.decoder.final_layer."),
    ("flow_decoder/~/basic_decoder/cross_attention/", "perceiver.decoder.decoder.decoding_cross_attention."),
    ("flow_decoder/~/basic_decoder/output/", "perceiver.decoder.decoder.final_layer."),
    ("classification_decoder/~/basic_decoder/cross_attention/", "perceiver.decoder.decoder.decoding_cross_attention."),
    ("classification_decoder/~/basic_decoder/output/", "perceiver.decoder.decoder.final_layer."),
    (
        "basic_decoder/~/trainable_position_encoding/pos_embs",
        "perceiver.decoder.output_position_encodings.position_embeddings",
    ),
    ("basic_decoder/cross_attention/", "perceiver.decoder.decoding_cross_attention."),
    ("projection_postprocessor/linear/", "perceiver.output_postprocessor.modalities.image.classifier."),
    ("classification_postprocessor/linear/", "perceiver.output_postprocessor.modalities.label.classifier."),
    ("audio_postprocessor/linear/", "perceiver.output_postprocessor.modalities.audio.classifier."),
    ("embedding_decoder/bias", "embedding_decoder.bias"),
    ("perceiver_encoder/~/trainable_position_encoding/pos_embs", "perceiver.embeddings.latents"),
    ("encoder/~/trainable_position_encoding/pos_embs", "perceiver.embeddings.latents"),
    ("perceiver_encoder/~/cross_attention/", "perceiver.encoder.cross_attention."),
    ("encoder/~/cross_attention/", "perceiver.encoder.cross_attention."),
]

_HF_IN_LAYER = {  # inside an attention block: official → HF (cross, self)
    "layer_norm": ("attention.self.layernorm1", "attention.self.layernorm1"),
    "layer_norm_1": ("attention.self.layernorm2", "layernorm"),
    "layer_norm_2": ("layernorm", None),
    "attention/linear": ("attention.self.query", "attention.self.query"),
    "attention/linear_1": ("attention.self.key", "attention.self.key"),
    "attention/linear_2": ("attention.self.value", "attention.self.value"),
    "attention/linear_3": ("attention.output.dense", "attention.output.dense"),
    "mlp/linear": ("mlp.dense1", "mlp.dense1"),
    "mlp/linear_1": ("mlp.dense2", "mlp.dense2"),
}
_HF_PARAMS = {"w": "weight", "b": "bias", "scale": "weight", "offset": "bias"}


def _hf_name(module: str, param: str, architecture: str) -> str | None:
    if param in ("counter", "hidden"):
        return None  # HF keeps only the EMAs' averages
    full = f"{module}/{param}"
    if architecture == "multimodal" and full.startswith("classification_decoder/~/basic_decoder/~/trainable"):
        return "perceiver.decoder.modalities.label.decoder.output_position_encodings.position_embeddings"
    if architecture != "multimodal" and full.startswith("classification_decoder/~/basic_decoder/~/trainable"):
        return "perceiver.decoder.decoder.output_position_encodings.position_embeddings"
    for scope in ("perceiver_encoder/~/self_attention", "encoder/~/self_attention"):
        if module.startswith(scope):
            head, _, inner = module[len(scope) :].partition("/")
            index = int(head[1:]) if head else 0
            return f"perceiver.encoder.self_attends.{index}.{_HF_IN_LAYER[inner][1]}.{_HF_PARAMS[param]}"
    for official, hf in _HF_PREFIXES:
        if full.startswith(official):
            rest = full[len(official) :]
            if "cross_attention" in official:
                inner, _, p = rest.rpartition("/")
                return f"{hf}{_HF_IN_LAYER[inner][0]}.{_HF_PARAMS[p]}"
            if official == "multimodal_decoder/~decoder_query/":
                return hf + rest.removesuffix("_padding/pos_embs")
            if official == "multimodal_preprocessor/":
                if rest.endswith("_mask_token/pos_embs"):
                    return f"{hf}mask.{rest.removesuffix('_mask_token/pos_embs')}"
                return f"{hf}padding.{rest.removesuffix('_padding/pos_embs')}"
            return hf + _HF_PARAMS.get(rest, rest)
    raise KeyError(f"no HF rule for {full}")


def hf_state(tree: Tree, architecture: str = "") -> dict[str, torch.Tensor]:
    """The state dict HF's conversion script makes: every kernel ``np.transpose``d (all axes reversed, so the
    conv stem's 7×7 kernel comes out spatially transposed), BatchNorm arrays squeezed."""
    state = {}
    for module, params in tree.items():
        for param, value in params.items():
            name = _hf_name(module, param, architecture)
            if name is None:
                continue
            if name.endswith("weight") and "embeddings" not in name:
                value = np.transpose(value)
            if "batchnorm" in name:
                value = np.squeeze(value)
            state[name] = torch.from_numpy(np.ascontiguousarray(value))
    return state


def load_into_hf(hf_model: torch.nn.Module, tree: Tree, architecture: str = "") -> torch.nn.Module:
    """Load ``tree`` through HF's renaming; every tensor HF's model has must be covered."""
    state = hf_state(tree, architecture)
    ours = hf_model.state_dict()
    missing = sorted(k for k in set(ours) - set(state) if not k.endswith("num_batches_tracked"))
    extra = sorted(set(state) - set(ours))
    assert not missing and not extra, (missing, extra)
    for name, value in state.items():
        assert tuple(ours[name].shape) == tuple(value.shape), (name, ours[name].shape, value.shape)
    hf_model.load_state_dict(state, strict=False)
    return hf_model.eval()


# ---------------------------------------------------------------------------------------------------------
# Comparing the two paths


def hf_config(transformers, **kw):
    """Tanh GELU and no attention dropout: the official settings, so both paths build the same blocks."""
    return transformers.PerceiverConfig(hidden_act="gelu_pytorch_tanh", attention_probs_dropout_prob=0.0, **kw)


def assert_same_weights(ours: torch.nn.Module, other: torch.nn.Module) -> None:
    """Identical tensors under identical names (HF's converter does not carry BatchNorm's step counter)."""
    a, b = ours.state_dict(), other.state_dict()
    assert sorted(a) == sorted(b)
    for name in a:
        if not name.endswith("num_batches_tracked"):
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def assert_close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < TOL
