"""The entities task: loss and metrics as sums over entities, and two real training steps per model kind."""

import pytest
import torch

from torchperceiver.models.entities.baselines import BaselineConfig
from torchperceiver.models.entities.scenes import IGNORE_INDEX
from torchperceiver.models.entities.task import EntitiesDataConfig, EntitiesTask
from torchperceiver.presets import model_section
from torchperceiver.training import recipe
from torchperceiver.training.optim import OptimConfig
from torchperceiver.training.trainer import TrainConfig, Trainer

SMALL = dict(
    max_entities=16, embed_dim=16, num_latents=4, latent_dim=16, num_layers=1, num_self_heads=2, num_cross_heads=2
)
DATA = dict(max_entities=16, min_entities=4, eval_scenes=8)


def _task(kind="none"):
    return EntitiesTask(
        model_section("entity-scenes")(**SMALL), EntitiesDataConfig(**DATA), BaselineConfig(kind=kind, width=16), seed=0
    )


def test_loss_counts_real_entities_and_reports_the_majority_baseline():
    task = _task()
    model = task.build_model()
    batch = torch.utils.data.default_collate([task.train_dataset()[i] for i in range(4)])
    out = task.loss(model, batch)
    assert out.count == (batch["labels"] != IGNORE_INDEX).sum()
    assert set(out.metrics) == {"accuracy", "set_accuracy"}
    model.eval()
    assert "majority_accuracy" in task.loss(model, batch).metrics
    assert "majority type" in task.demo(model)


@pytest.mark.parametrize("kind", ["none", "mlp", "transformer"])
def test_two_training_steps(tmp_path, kind):
    torch.set_num_threads(1)
    cfg = TrainConfig(
        steps=2,
        batch_size=4,
        log_every=1,
        eval_every=2,
        checkpoint_every=2,
        progress=False,
        tensorboard=False,
        best_metric="eval/accuracy",
        best_mode="max",
    )
    result = Trainer(_task(kind), OptimConfig(name="adamw"), cfg, tmp_path).fit()
    assert result.step == 2 and 0 <= result.metrics["eval/accuracy"] <= 1
    assert (result.checkpoint / "config.json").is_file()


def test_the_recipe_loads_and_a_mismatched_model_is_an_error():
    rec = recipe.load("entities-tiny")
    assert rec.task == "entities" and rec.sections["baseline"].kind == "none"
    with pytest.raises(ValueError, match=r"model\.categories: expected \(3, 2\) for these scenes, got \(4, 2\)"):
        EntitiesTask(model_section("entity-scenes")(**SMALL), EntitiesDataConfig(**DATA, num_types=3))
    with pytest.raises(ValueError, match=r"model\.num_entity_outputs: expected 6"):
        EntitiesTask(model_section("entity-scenes")(**SMALL), EntitiesDataConfig(**DATA, target="neighbours"))
