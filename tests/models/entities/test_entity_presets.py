"""Entity presets build with their documented shapes."""

import torch

import torchperceiver as tp


def test_entity_encoder_has_the_paper_s_starcraft_sizes():
    model = tp.build("entity-encoder")
    assert model.config.encoder.num_latents == 32
    assert model.config.input_adapter.max_entities == 512
    assert model.config.encoder.latent_dim == 256 and model.config.encoder.num_self_attends_per_block == 3
    assert model.config.input_adapter.embed_dim == 128, "Table 6: 128-channel entity features in and as queries"
    with torch.no_grad():
        out = model(*model.example_inputs(batch_size=1))
    assert out.entities.shape == (1, 512, 256) and out.set.shape == (1, 256)


def test_entity_scenes_builds_and_takes_overrides():
    model = tp.build("entity-scenes", num_latents=8)
    assert model.config.encoder.num_latents == 8
    assert "entity-scenes" in tp.presets() and "entity-encoder" in tp.presets()
