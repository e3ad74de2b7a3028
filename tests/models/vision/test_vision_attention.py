"""Attention maps: the explicitly computed weights are the ones the fused path uses, for every image preset, and
``plot attention`` / ``predict classify`` run on a model converted from HF transformers."""

import pytest
import torch
from PIL import Image

import torchperceiver as tp
from torchperceiver.cli import main
from torchperceiver.models.vision.attention import cross_attention_maps, default_latents

TINY = dict(num_classes=3, num_latents=8, latent_dim=32, num_blocks=1, num_layers=1, num_self_heads=2)
PRESETS = {
    "vision-fourier": dict(num_bands=4, max_resolution=(12, 12)),
    "vision-learned": dict(image_size=(8, 8), conv_channels=8, position_channels=8),
    "vision-conv": dict(conv_channels=8, num_bands=4, max_resolution=(8, 8)),
    "vision-small": dict(in_channels=3, patch_size=4, patch_dim=16, num_bands=2),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_maps_reproduce_the_fused_cross_attention(preset):
    torch.set_num_threads(1)
    model = tp.build(preset, **TINY, **PRESETS[preset]).eval()
    (images,) = model.example_inputs(batch_size=2)
    maps = cross_attention_maps(model, images, [0, 5])
    grid = model.input_adapter(images).context.grid
    assert maps.shape == (2, 1, 2, *grid)
    torch.testing.assert_close(maps.sum((-1, -2)), torch.ones(2, 1, 2))

    layer = model.encoder.cross_attends[0]
    seen = {}
    hook = layer.attn.register_forward_hook(lambda module, args, out: seen.update(args=args, out=out))
    with torch.no_grad():
        model.encode(images)
    hook.remove()
    x_q, x_kv = seen["args"][:2]
    weights = cross_attention_maps(model, images).flatten(-2)  # [B, 1, N, M]
    attn = layer.attn
    values = attn.value(x_kv)[:, None]  # one head
    rebuilt = attn.out((weights @ values)[:, 0])
    torch.testing.assert_close(rebuilt, seen["out"], atol=1e-5, rtol=1e-4)
    assert x_q.shape[1] == model.config.encoder.num_latents


def test_latent_choices():
    assert default_latents(512) == [0, 73, 146, 219, 292, 365, 438, 511]
    assert default_latents(3) == [0, 1, 2]
    model = tp.build("vision-small", **TINY, **PRESETS["vision-small"])
    with pytest.raises(ValueError, match=r"latents: expected indices in \[0, 8\), got \[8\]"):
        cross_attention_maps(model, model.example_inputs()[0], [8])


def test_commands_on_a_model_converted_from_hf(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    torch.set_num_threads(1)
    config = transformers.PerceiverConfig(
        num_latents=8, d_latents=32, num_blocks=1, num_self_attends_per_block=1, num_self_attention_heads=2,
        num_cross_attention_heads=1, num_labels=3, image_size=32,
    )  # fmt: skip
    hf = transformers.PerceiverForImageClassificationConvProcessing(config).eval()
    model = tp.from_transformers(hf)
    model.save_pretrained(tmp_path / "converted")
    picture = tmp_path / "photo.jpg"
    Image.new("RGB", (48, 40), (120, 200, 30)).save(picture)
    converted = str(tmp_path / "converted")
    assert main(["predict", "classify", str(picture), "--checkpoint", converted]) == 0
    assert capsys.readouterr().out.startswith(f"{picture}: ")
    out = tmp_path / "attention.png"
    assert main(["plot", "attention", str(picture), "--checkpoint", converted, "--out", str(out)]) == 0
    assert out.is_file() and "8 latents over a " in capsys.readouterr().out
