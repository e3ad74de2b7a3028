"""The MLM task: loss and metrics as sums over masked bytes, the unigram baseline, fill-mask."""

import pytest
import torch
import torch.nn.functional as F

import torchperceiver as tp
from torchperceiver.models.language.masking import IGNORE_INDEX
from torchperceiver.models.language.mlm import MLMDataConfig, MLMTask, fill_mask, unigram_log_probs
from torchperceiver.presets import model_section
from torchperceiver.tokenizer import BYTE_OFFSET

SMALL = dict(
    num_latents=8,
    latent_dim=32,
    num_layers=1,
    num_self_heads=2,
    num_cross_heads=2,
    qk_channels=16,
    embed_dim=16,
    max_seq_len=64,
)


@pytest.fixture(scope="module")
def task():
    return MLMTask(model_section("language-mlm")(**SMALL), MLMDataConfig(seq_len=64), seed=0)


def _batch(task, n=4):
    return torch.utils.data.default_collate([task.train_dataset()[i] for i in range(n)])


def test_loss_is_a_sum_over_masked_bytes(task):
    model = task.build_model()
    batch = _batch(task)
    out = task.loss(model, batch)
    logits = model(batch["input_ids"])
    labels = batch["labels"]
    expected = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
    assert out.count == (labels != IGNORE_INDEX).sum()
    assert torch.allclose(out.loss / out.count, expected, atol=1e-5)
    assert set(out.metrics) == {"accuracy"}, "the baseline is an eval metric"
    model.eval()
    expected = {"accuracy", "unigram_loss", "unigram_accuracy", "context_free_accuracy"}
    assert set(task.loss(model, batch).metrics) == expected


def test_unigram_baseline_is_the_byte_distribution_of_words(task):
    log_probs = unigram_log_probs(task.train_ids)
    assert torch.allclose(log_probs.exp().sum(), torch.tensor(1.0))
    assert chr(int(log_probs.argmax()) - BYTE_OFFSET) == "e"
    assert log_probs[BYTE_OFFSET + ord(" ")] < log_probs[BYTE_OFFSET + ord("z")], "spaces are never masked"
    batch = _batch(task, 8)
    model = task.build_model().eval()
    out = task.loss(model, batch)
    correct, count = out.metrics["unigram_accuracy"]
    labels = batch["labels"]
    assert correct == ((labels == int(log_probs.argmax())) & (labels != IGNORE_INDEX)).sum()
    assert count == out.count


def test_seq_len_longer_than_the_model_is_an_error():
    with pytest.raises(ValueError, match=r"data\.seq_len: expected at most model\.max_seq_len=64, got 128"):
        MLMTask(model_section("language-mlm")(**SMALL), MLMDataConfig(seq_len=128))


def _model_that_always_says(char: str):
    model = tp.build("language-mlm", **SMALL)
    with torch.no_grad():
        model.output_adapter.bias.zero_()
        model.output_adapter.bias[BYTE_OFFSET + ord(char)] = 1e4
        model.output_adapter.bias[3] = 2e4  # a special token never wins
    return model


def test_fill_mask_replaces_exactly_the_masked_bytes():
    model = _model_that_always_says("x")
    assert fill_mask(model, "a [MASK][MASK] b [MASK]") == "a xx b x"
    assert fill_mask(model, "[MASK] é", width=3) == "xxx é"
    with pytest.raises(ValueError, match=r"text: expected at least one \[MASK\]"):
        fill_mask(model, "nothing to fill")
    with pytest.raises(ValueError, match="text: expected at most 64 bytes"):
        fill_mask(model, "[MASK]" * 65)


def test_predict_fill_mask_cli(tmp_path, capsys):
    from torchperceiver.cli import main

    _model_that_always_says("q").save_pretrained(tmp_path / "model")
    assert main(["predict", "fill-mask", "--checkpoint", str(tmp_path / "model"), "[MASK]uit", "--width", "2"]) == 0
    assert capsys.readouterr().out.strip() == "qquit"
    assert main(["predict", "fill-mask", "--checkpoint", str(tmp_path / "nothing"), "[MASK]"]) == 2
    assert "--checkpoint: expected a run directory" in capsys.readouterr().err
