"""Entity adapters: no order (permutation-equivariant entity outputs, invariant set output), padding ignored."""

import pytest
import torch

import torchperceiver as tp
from torchperceiver.core.config import PerceiverConfig
from torchperceiver.models.entities.adapters import EntitySetOutputs

SMALL = dict(
    max_entities=12, embed_dim=16, num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2, num_cross_heads=2
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return tp.build("entity-scenes", **SMALL).eval()


def _inputs(batch=2, m=12, real=9):
    entities = {
        "features": torch.randn(batch, m, 5),
        "categories": torch.stack([torch.randint(4, (batch, m)), torch.randint(2, (batch, m))], dim=-1),
    }
    return entities, torch.arange(m)[None].expand(batch, -1) < real


def test_entity_outputs_permute_with_the_entities_and_the_set_output_does_not_change(model):
    entities, mask = _inputs()
    perm = torch.randperm(12)
    with torch.no_grad():
        out = model(entities, attention_mask=mask)
        permuted = model({k: v[:, perm] for k, v in entities.items()}, attention_mask=mask[:, perm])
    assert isinstance(out, EntitySetOutputs) and out.entities.shape == (2, 12, 4) and out.set.shape == (2, 4)
    torch.testing.assert_close(permuted.entities, out.entities[:, perm], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(permuted.set, out.set, atol=1e-5, rtol=1e-5)


def test_padding_slots_do_not_change_the_real_entities_outputs(model):
    entities, mask = _inputs()
    changed = {k: v.clone() for k, v in entities.items()}
    changed["features"][:, 9:] = 100.0
    changed["categories"][:, 9:] = 1
    with torch.no_grad():
        out, other = model(entities, attention_mask=mask), model(changed, attention_mask=mask)
    torch.testing.assert_close(other.entities[:, :9], out.entities[:, :9])
    torch.testing.assert_close(other.set, out.set)


def test_example_inputs_run_and_the_config_round_trips(model):
    out = model(*model.example_inputs(batch_size=3))
    assert out.entities.shape == (3, 12, 4)
    config = PerceiverConfig.from_dict(model.config.to_dict())
    assert config == model.config


@pytest.mark.parametrize(
    ("entities", "match"),
    [
        (torch.zeros(1, 12, 5), r"entities: expected a mapping"),
        (
            {"features": torch.zeros(1, 12, 4), "categories": torch.zeros(1, 12, 2, dtype=torch.long)},
            r"num_features = 5",
        ),
        ({"features": torch.zeros(1, 12, 5), "categories": torch.zeros(1, 12, 2)}, r"expected an integer tensor"),
        (
            {"features": torch.zeros(1, 13, 5), "categories": torch.zeros(1, 13, 2, dtype=torch.long)},
            r"max_entities=12",
        ),
        ({"features": torch.zeros(1, 12, 5), "categories": torch.full((1, 12, 2), 7)}, r"categories'\]\[\.\.\., 0\]"),
    ],
)
def test_bad_inputs_are_one_line_errors(model, entities, match):
    with pytest.raises(ValueError, match=match):
        model(entities)
