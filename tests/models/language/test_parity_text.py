"""Text models match HF transformers on the same weights (fp32, max abs diff ≤ 1e-4)."""

import pytest
import torch

import torchperceiver as tp
from hf_utils import TOLERANCE, max_abs_diff, randomize, transformers

SMALL = dict(
    num_latents=16,
    d_latents=64,
    d_model=32,
    num_self_attends_per_block=2,
    num_blocks=2,
    num_self_attention_heads=4,
    num_cross_attention_heads=2,
    max_position_embeddings=40,
)


def _padded_batch(batch: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(6, 262, (batch, seq_len))
    mask = torch.ones(batch, seq_len, dtype=torch.bool)
    for row in range(1, batch):
        mask[row, seq_len - 3 * row :] = False
    return ids.masked_fill(~mask, 0), mask


def _mlm_parity(hf_config, batch: int, seq_len: int) -> float:
    hf = randomize(transformers.PerceiverForMaskedLM(hf_config))
    ours = tp.from_transformers(hf)
    ids, mask = _padded_batch(batch, seq_len)
    with torch.no_grad():
        expected = hf(inputs=ids, attention_mask=mask).logits[:, :seq_len]
        got = ours(ids, mask)
    return max_abs_diff(got, expected)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(qk_channels=32, v_channels=64),
        dict(),  # qk/v default: input width ('kv'), one odd case below
        dict(cross_attention_shape_for_attention="q", hidden_act="gelu_new", cross_attention_widening_factor=2),
        dict(d_model=24, use_query_residual=False, self_attention_widening_factor=3),
    ],
)
def test_masked_lm_small(overrides):
    config = transformers.PerceiverConfig(**{**SMALL, **overrides})
    assert _mlm_parity(config, batch=3, seq_len=23) <= TOLERANCE


@pytest.mark.parametrize("overrides", [dict(qk_channels=32, v_channels=64, num_labels=3), dict(num_labels=5)])
def test_sequence_classification_small(overrides):
    hf = randomize(transformers.PerceiverForSequenceClassification(transformers.PerceiverConfig(**SMALL, **overrides)))
    ours = tp.from_transformers(hf)
    ids, mask = _padded_batch(3, 31)
    with torch.no_grad():
        diff = max_abs_diff(ours(ids, mask), hf(inputs=ids, attention_mask=mask).logits)
    assert diff <= TOLERANCE


@pytest.mark.slow
def test_masked_lm_real_shapes():
    """deepmind/language-perceiver's shapes: 256 × 1280 latents, 26 layers, 2048 × 768 positions."""
    config = transformers.PerceiverConfig(qk_channels=256, v_channels=1280)
    hf = randomize(transformers.PerceiverForMaskedLM(config))
    with torch.no_grad():  # logits O(5), not O(60): the tied 768-wide embedding of std 1 would make fp32
        hf.perceiver.input_preprocessor.embeddings.weight.div_(8)  # rounding alone ~1e-4 after 26 layers
    ours = tp.from_transformers(hf)
    preset = tp.build("language-mlm", activation="gelu")
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in preset.state_dict().items()}
    ids, mask = _padded_batch(2, 2048)
    with torch.no_grad():
        expected = hf(inputs=ids, attention_mask=mask).logits
        got = ours(ids, mask)
    assert 1 < expected.std() < 20
    assert max_abs_diff(got, expected) <= TOLERANCE


@pytest.mark.slow
def test_sequence_classification_real_shapes():
    config = transformers.PerceiverConfig(qk_channels=256, v_channels=1280, num_labels=2)
    hf = randomize(transformers.PerceiverForSequenceClassification(config))
    ours = tp.from_transformers(hf)
    ids, mask = _padded_batch(2, 512)
    with torch.no_grad():
        diff = max_abs_diff(ours(ids, mask), hf(inputs=ids, attention_mask=mask).logits)
    assert diff <= TOLERANCE
