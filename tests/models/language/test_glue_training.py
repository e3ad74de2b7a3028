"""GLUE-format fixtures train and evaluate with the metric GLUE reports for each task; recipes load."""

import pytest
import torch

from models.language.text_fixtures import SMALL_MODEL, write_glue
from torchperceiver.models.language.classification import ClassificationDataConfig, TextClassificationTask
from torchperceiver.models.language.warmstart import FinetuneConfig, Finetuned, copy_encoder
from torchperceiver.presets import model_section
from torchperceiver.training import recipe
from torchperceiver.training.optim import OptimConfig
from torchperceiver.training.trainer import TrainConfig, Trainer

TRAIN = TrainConfig(
    steps=2, batch_size=4, log_every=1, eval_every=2, checkpoint_every=2, progress=False, tensorboard=False, threads=1
)


@pytest.fixture(scope="module")
def glue_root(tmp_path_factory):
    return write_glue(tmp_path_factory.mktemp("glue_data"))


def _task(root, name, **data):
    model = model_section("text-classifier")(**SMALL_MODEL)
    return TextClassificationTask(
        model, ClassificationDataConfig(format="glue", task=name, path=str(root), seq_len=48, **data)
    )


@pytest.mark.parametrize(
    ("name", "metrics"),
    [
        ("cola", {"matthews"}),
        ("stsb", {"pearson", "spearman", "mse"}),
        ("mrpc", {"f1", "accuracy"}),
        ("mnli-mm", {"accuracy"}),
    ],
)
def test_glue_fixture_trains_and_reports_its_metrics(glue_root, tmp_path, name, metrics):
    task = _task(glue_root, name)
    result = Trainer(task, OptimConfig(lr=1e-3), TRAIN, tmp_path / "run").fit()
    reported = {key.removeprefix("eval/") for key in result.metrics if key.startswith("eval/")}
    assert metrics | {"loss"} <= reported, reported
    assert all(
        torch.isfinite(torch.tensor(result.metrics[f"eval/{m}"])) or m in ("matthews", "pearson", "spearman")
        for m in metrics
    )
    assert result.demo and "→" in result.demo


def test_eval_summary_matches_torchmetrics_on_known_predictions(glue_root):
    from torchmetrics.functional.classification import binary_f1_score, multiclass_matthews_corrcoef

    task = _task(glue_root, "mrpc", metrics=["f1", "matthews", "accuracy"])
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 0, 0, 1])
    task.scores.update(logits[:3], labels[:3])  # two evaluation batches
    task.scores.update(logits[3:], labels[3:])
    summary = task.eval_summary()
    predictions = logits.argmax(-1)
    assert summary["f1"] == pytest.approx(float(binary_f1_score(predictions, labels)))
    assert summary["matthews"] == pytest.approx(float(multiclass_matthews_corrcoef(predictions, labels, 2)))
    assert summary["accuracy"] == pytest.approx(0.8)
    assert task.eval_summary() == {}, "reset after compute"


def test_model_takes_the_classes_of_the_data(glue_root):
    task = _task(glue_root, "mnli")
    model = task.build_model()
    assert model.config.output_adapter.num_classes == 3
    assert model.config.output_adapter.labels == ("contradiction", "entailment", "neutral")
    assert _task(glue_root, "stsb").build_model().config.output_adapter.num_classes == 1


def test_warm_start_copies_the_encoder_and_lists_fresh_parameters(glue_root, tmp_path, capsys):
    import torchperceiver as tp

    mlm = tp.build("language-mlm", **SMALL_MODEL)
    mlm.save_pretrained(tmp_path / "mlm")
    task = _task(glue_root, "rte")
    task.finetuned = Finetuned(FinetuneConfig(init=str(tmp_path / "mlm"), frozen_encoder_examples=8))
    model = task.build_model()
    out = capsys.readouterr().out
    assert "copied: encoder.latents" in out and "copied: input_adapter.token_embedding.weight" in out
    assert "fresh:  output_adapter.query" in out and "fresh:  decoder." in out
    assert torch.equal(model.encoder.latents, mlm.encoder.latents)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = Trainer(
        task,
        OptimConfig(lr=1e-2),
        TrainConfig(steps=2, batch_size=4, progress=False, tensorboard=False, eval_every=10, checkpoint_every=10),
        tmp_path / "run",
    )
    result.fit()
    after = result.model.state_dict()
    assert torch.equal(after["encoder.latents"], before["encoder.latents"]), "frozen for the first 8 examples"
    assert not torch.equal(after["output_adapter.query"], before["output_adapter.query"])
    with pytest.raises(ValueError, match=r"finetune\.init: expected a run, checkpoint or model directory"):
        copy_encoder(model, tmp_path / "nothing")


def test_every_language_recipe_loads():
    names = [n for n in recipe.available() if n.startswith(("glue-", "fortunes-"))]
    assert {"glue-cola", "glue-multitask", "fortunes-language", "fortunes-topic", "fortunes-multitask"} <= set(names)
    for name in names:
        assert recipe.load(name).task in ("text-classification", "text-multitask")
