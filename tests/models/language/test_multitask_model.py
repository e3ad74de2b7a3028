"""Multi-task queries: one query per task in one decode, mixed batches, per-task loss and metrics, predict."""

import pytest
import torch

import torchperceiver as tp
from models.language.text_fixtures import SMALL_MODEL, write_fortunes, write_glue
from torchperceiver.models.language.multitask import MultiTaskDataConfig, TextMultiTaskTask
from torchperceiver.models.language.sources import TextSource
from torchperceiver.presets import model_section
from torchperceiver.training.optim import OptimConfig
from torchperceiver.training.trainer import TrainConfig, Trainer


def test_multitask_and_single_task_shapes():
    multi = tp.build("text-multitask", tasks=("a", "b", "c"), num_outputs=(3, 2, 1), head="mlp", **SMALL_MODEL)
    single = tp.build("text-classifier", num_classes=3, **SMALL_MODEL)
    ids = torch.randint(6, 262, (5, 20))
    out = multi(ids)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"a": (5, 3), "b": (5, 2), "c": (5, 1)}
    assert tuple(single(ids).shape) == (5, 3)
    assert tuple(multi.output_adapter.queries(multi.encode(ids).context).shape) == (5, 3, SMALL_MODEL["latent_dim"])
    with torch.no_grad():  # the same latents feed every task's query: the encoder is shared, one forward
        encoding = multi.encode(ids)
        assert torch.equal(multi.decode(encoding)["b"], out["b"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tasks": ("a", "a"), "num_outputs": (2, 2)}, "tasks: expected distinct names"),
        ({"tasks": ("a", "b"), "num_outputs": (2,)}, "num_outputs: expected one per task (2), got 1"),
        ({"tasks": ("a",), "num_outputs": (2,), "labels": (("x",),)}, "labels: expected a class name per output"),
    ],
)
def test_bad_multitask_configs(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tp.build("text-multitask", **overrides, **SMALL_MODEL)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_glue(root / "glue")
    write_fortunes(root / "fortunes")
    data = MultiTaskDataConfig(
        seq_len=48,
        tasks=[
            TextSource(format="glue", task="stsb", path=str(root / "glue")),
            TextSource(format="glue", task="cola", path=str(root / "glue")),
            TextSource(format="fortunes", task="topic", path=str(root / "fortunes"), min_topic_quotes=1),
        ],
    )
    return TextMultiTaskTask(model_section("text-multitask")(**SMALL_MODEL), data)


def test_batches_mix_tasks_and_the_loss_reads_each_examples_own_task(task):
    stream = task.train_dataset()
    tasks = torch.stack([stream[i]["task"] for i in range(400)])
    counts = torch.bincount(tasks, minlength=3).float() / 400
    assert torch.allclose(counts, torch.tensor([4 / 15, 4 / 15, 7 / 15]), atol=0.08), "proportional to 4, 4, 7"
    assert torch.equal(stream[7]["input_ids"], stream[7]["input_ids"]), "a pure function of the index"
    batch = torch.utils.data.default_collate([stream[i] for i in range(16)])
    model = task.build_model()
    out = task.loss(model, batch)
    assert out.count == 16
    assert {"stsb/mse", "cola/accuracy", "topic/accuracy"} <= set(out.metrics)
    assert sum(count for _, count in out.metrics.values()) == 16
    model.eval()
    task.loss(model, batch)
    summary = task.eval_summary()
    assert {"stsb/pearson", "stsb/spearman", "cola/matthews"} <= set(summary)


def test_eval_takes_the_tasks_in_turn_so_a_few_batches_score_every_task(task):
    """The trainer scores the first ``eval_batches`` of the held-out set: each task must be among them."""
    held_out = task.eval_dataset()
    assert len(held_out) == 8, "stsb and cola: 4 dev rows each (topic has no held-out quotation here)"
    assert [int(held_out[i]["task"]) for i in range(8)] == [0, 1] * 4
    assert torch.equal(held_out[2]["input_ids"], task.examples(0, "eval")[1]["input_ids"])


def test_uniform_mix_and_weights(task):
    from torchperceiver.models.language.multitask import mixing_probabilities

    data = task.data_cfg
    assert mixing_probabilities(MultiTaskDataConfig(tasks=data.tasks, mix="uniform"), [4, 4, 7]).tolist() == [1 / 3] * 3
    assert mixing_probabilities(MultiTaskDataConfig(tasks=data.tasks, weights=[1, 0, 1]), [4, 4, 7]).tolist() == [
        0.5,
        0,
        0.5,
    ]
    with pytest.raises(ValueError, match=r"data\.weights: expected 3 non-negative weights"):
        MultiTaskDataConfig(tasks=data.tasks, weights=[1.0])


def test_multitask_trains_and_predict_classify_prints_every_task(task, tmp_path, capsys):
    from torchperceiver.cli import main

    train = TrainConfig(steps=2, batch_size=4, eval_every=2, checkpoint_every=2, progress=False, tensorboard=False)
    result = Trainer(task, OptimConfig(lr=1e-3), train, tmp_path / "run").fit()  # topic: no held-out quotation here
    assert {"eval/cola/matthews", "eval/stsb/pearson", "train/topic/accuracy"} <= set(result.metrics)
    capsys.readouterr()
    assert (
        main(["predict", "classify", "--checkpoint", str(tmp_path / "run"), "--top-k", "1", "Eat first [SEP] then"])
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["stsb", "cola", "topic"]
    assert lines[1].split(": ")[2].split()[0] in ("acceptable", "unacceptable")
    assert lines[2].split(": ")[2].split()[0] in ("computers", "food")
    assert main(["predict", "classify", "--checkpoint", str(tmp_path / "run"), " "]) == 2
    assert "inputs[0]: expected a non-empty text" in capsys.readouterr().err


def test_predict_classify_single_task_text(tmp_path, capsys):
    from torchperceiver.cli import main

    model = tp.build("text-classifier", num_classes=2, labels=("neg", "pos"), **SMALL_MODEL)
    model.save_pretrained(tmp_path / "model")
    assert main(["predict", "classify", "--checkpoint", str(tmp_path / "model"), "good", "bad movie"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["good", "bad movie"]
    assert {name for line in lines for name in ("neg", "pos") if name in line} == {"neg", "pos"}
