"""PerceiverIO core: weight sharing, chunked decoding, save/load, presets, clear errors on bad input."""

import json

import pytest
import torch

import torchperceiver as tp
from torchperceiver.core.io import CONFIG_FILE, WEIGHTS_FILE

TINY = dict(
    num_latents=8,
    latent_dim=32,
    num_layers=2,
    num_self_heads=4,
    num_cross_heads=4,
    qk_channels=16,
    embed_dim=16,
    max_seq_len=24,
)


def tiny_mlm(**overrides):
    return tp.build("language-mlm", **{**TINY, **overrides}).eval()


def test_processor_weights_are_shared_across_blocks():
    cfg = tiny_mlm().config
    cfg.encoder.num_blocks = 3
    model = tp.PerceiverIO(cfg)
    assert len(model.encoder.self_attends) == 2
    calls = []
    handle = model.encoder.self_attends[0].register_forward_hook(lambda *_: calls.append(1))
    model(torch.randint(6, 262, (1, 5)))
    handle.remove()
    assert len(calls) == 3


def test_repeated_cross_attends_share_weights_after_the_first():
    cfg = tiny_mlm().config
    cfg.encoder.num_blocks, cfg.encoder.num_cross_attends = 4, 3
    model = tp.PerceiverIO(cfg)
    assert len(model.encoder.cross_attends) == 2
    counts = [0, 0]
    for i, layer in enumerate(model.encoder.cross_attends):
        layer.register_forward_hook(lambda *_, i=i: counts.__setitem__(i, counts[i] + 1))
    model(torch.randint(6, 262, (1, 5)))
    assert counts == [1, 2]


def test_chunked_decoding_equals_one_shot():
    model = tiny_mlm()
    ids = torch.randint(6, 262, (2, 23))
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, 15:] = False
    with torch.no_grad():
        full = model(ids, mask)
        model.decoder.chunk_size = 5
        chunked = model(ids, mask)
    torch.testing.assert_close(chunked, full, rtol=0, atol=1e-6)


def test_mlm_decodes_only_the_positions_asked_for():
    model = tiny_mlm()
    assert model(torch.randint(6, 262, (3, 7))).shape == (3, 7, 262)


def test_classifier_heads():
    ids = torch.randint(6, 262, (2, 9))
    for head in ("linear", "mlp"):
        model = tp.build("text-classifier", num_classes=5, head=head, **TINY)
        assert model(ids).shape == (2, 5)


def test_save_load_round_trip_is_bit_identical(tmp_path):
    model = tiny_mlm(activation="gelu")
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CONFIG_FILE, "manifest.json", WEIGHTS_FILE]
    loaded = tp.load(tmp_path).eval()
    assert loaded.config == model.config
    ids = torch.randint(6, 262, (2, 11))
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_save_load_classifier(tmp_path):
    model = tp.build("text-classifier", num_classes=3, head="mlp", **TINY).eval()
    model.save_pretrained(tmp_path)
    ids = torch.randint(6, 262, (2, 11))
    with torch.no_grad():
        assert torch.equal(tp.load(tmp_path).eval()(ids), model(ids))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"expected config\.json"):
        tp.load(tmp_path)
    tiny_mlm().save_pretrained(tmp_path)
    (tmp_path / "manifest.json").unlink()  # edited by hand below: no checksums to refuse the edits
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["output_adapter"]["kind"] = "teleport"
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"output_adapter\.kind: expected one of .* got 'teleport'"):
        tp.load(tmp_path)
    config["output_adapter"]["kind"] = "masked_lm"
    config["encoder"]["num_latent"] = 3
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"encoder: unknown fields \['num_latent'\]"):
        tp.load(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"garbage")
    del config["encoder"]["num_latent"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="not a safetensors file"):
        tp.load(tmp_path)


def test_presets_registry():
    assert {"language-mlm", "text-classifier"} <= set(tp.presets())
    assert tp.preset_arguments("language-mlm")["num_latents"] == 256
    with pytest.raises(ValueError, match=r"preset: expected one of .* got 'gpt'"):
        tp.build("gpt")
    with pytest.raises(ValueError, match=r"unknown arguments \['latents'\]"):
        tp.build("language-mlm", latents=3)


def test_language_mlm_released_shapes():
    model = tp.build("language-mlm")
    assert model.encoder.latents.shape == (256, 1280)
    assert len(model.encoder.self_attends) == 26
    assert model.input_adapter.position_embedding.table.shape == (2048, 768)
    assert model.encoder.cross_attends[0].attn.query.weight.shape == (256, 1280)
    assert model.encoder.cross_attends[0].attn.value.weight.shape == (1280, 768)
    assert model.decoder.cross_attend.attn.value.weight.shape == (768, 1280)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(201e6, rel=0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.randint(6, 262, (5,)),), r"input_ids: expected 2 dims \[batch, seq_len\], got shape \(5,\)"),
        ((torch.rand(2, 5),), "input_ids: expected an integer tensor, got dtype torch.float32"),
        ((torch.randint(6, 262, (1, 25)),), "input_ids: expected seq_len <= max_seq_len=24, got 25"),
        ((torch.full((1, 4), 262),), r"input_ids: expected values in \[0, 262\), got values in \[262, 262\]"),
        ((torch.full((1, 4), -1),), r"input_ids: expected values in \[0, 262\), got values in \[-1, -1\]"),
        (
            (torch.randint(6, 262, (2, 5)), torch.ones(2, 6, dtype=torch.bool)),
            r"attention_mask: expected shape \(2, 5\), got \(2, 6\)",
        ),
        (([[1, 2]],), "input_ids: expected a torch.Tensor, got list"),
    ],
)
def test_bad_text_input_errors(args, message):
    with pytest.raises(ValueError, match=message):
        tiny_mlm()(*args)
