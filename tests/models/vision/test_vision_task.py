"""The image-classification task end to end on a tiny ImageFolder with a corrupt file: training, the end-of-run
confusion matrix, ``predict classify`` and ``plot attention`` on the checkpoint, and the recipes."""

import json

import pytest
import torch
from PIL import Image

from torchperceiver.cli import main
from torchperceiver.models.vision.augment import AugmentConfig
from torchperceiver.models.vision.task import ImageClassificationTask, ImageDataConfig
from torchperceiver.presets import model_section
from torchperceiver.training import recipe
from torchperceiver.training.optim import OptimConfig
from torchperceiver.training.trainer import TrainConfig, Trainer

TINY = dict(
    num_classes=2, image_size=(16, 16), in_channels=3, patch_size=4, patch_dim=16, num_bands=2, num_latents=4,
    latent_dim=16, num_layers=1, num_self_heads=2,
)  # fmt: skip
AUGMENT = AugmentConfig(crop="random_resized", crop_size=16, randaugment_layers=2, mixup_alpha=0.2, cutmix_alpha=0.2)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """``root/{train,val}/{red,blue}/*.png`` (20×24 images) and one corrupt JPEG in the training set."""
    root = tmp_path_factory.mktemp("images")
    for split in ("train", "val"):
        for name, colour in (("blue", (0, 0, 230)), ("red", (230, 0, 0))):
            (root / split / name).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (20 + i, 24), colour).save(root / split / name / f"{i}.png")
    (root / "train" / "red" / "damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


@pytest.fixture(scope="module")
def run(tree, tmp_path_factory):
    torch.set_num_threads(1)
    data = ImageDataConfig(root=str(tree), load_size=18, on_error="skip", check_files=True)
    task = ImageClassificationTask(model_section("vision-small")(**TINY), data, AUGMENT)
    cfg = TrainConfig(steps=2, batch_size=4, log_every=1, eval_every=2, checkpoint_every=2, progress=False)
    cfg.tensorboard, cfg.best_metric, cfg.best_mode = False, "eval/accuracy", "max"
    run_dir = tmp_path_factory.mktemp("run")
    return Trainer(task, OptimConfig(name="lamb", lr=2e-3), cfg, run_dir).fit(), run_dir, task


def test_two_steps_train_and_write_the_confusion_matrix(run, capsys):
    result, run_dir, task = run
    assert result.step == 2 and 0 <= result.metrics["eval/accuracy"] <= 1 and "eval/top5" in result.metrics
    assert {p.name for p in result.artefacts} == {"confusion.png", "per_class.json"}
    report = json.loads((run_dir / "per_class.json").read_text())
    assert report["images"] == 8 and set(report["per_class_accuracy"]) == {"blue", "red"}
    assert task.model_cfg.labels == ("blue", "red")  # class names from the folders, saved with the model
    assert "true blue" in result.demo or "true red" in result.demo


def test_the_corrupt_file_is_reported_by_path(tree, capsys):
    data = ImageDataConfig(root=str(tree), load_size=18, on_error="skip", check_files=True)
    data.open("train")
    assert "damaged.jpg: unreadable image; skipped" in capsys.readouterr().out
    strict = ImageDataConfig(root=str(tree), load_size=18, check_files=True)
    with pytest.raises(ValueError, match=r"damaged\.jpg.*data\.on_error=skip"):
        strict.open("train")


def test_predict_classify_and_plot_attention_on_the_checkpoint(run, tree, tmp_path, capsys):
    _, run_dir, _ = run
    images = [str(tree / "val" / "red" / "0.png"), str(tree / "val" / "blue" / "1.png")]
    assert main(["predict", "classify", *images, "--checkpoint", str(run_dir), "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(images[0]) and "red" in lines[0] and "blue" in lines[0]
    out = tmp_path / "attention.png"
    assert (
        main(["plot", "attention", images[0], "--checkpoint", str(run_dir), "--out", str(out), "--latents", "0,3"]) == 0
    )
    assert out.stat().st_size > 1000 and "2 latents over a 4×4 input grid" in capsys.readouterr().out
    assert (
        main(["plot", "attention", images[0], "--checkpoint", str(run_dir), "--out", str(out), "--latents", "9"]) == 2
    )
    assert "latents: expected indices in [0, 4), got [9]" in capsys.readouterr().err


def test_recipes_load_with_the_paper_settings():
    for name in ("imagenet-learned", "imagenet-fourier", "imagenet-conv"):
        rec = recipe.load(name)
        assert rec.task == "image-classification" and rec.train.batch_size == 1024 and rec.train.clip_grad_norm == 10
        assert rec.optim.name == "lamb" and rec.optim.schedule == "constant_cosine" and rec.optim.weight_decay == 0.1
        augment = rec.sections["augment"]
        assert (augment.randaugment_layers, augment.randaugment_magnitude, augment.mixup_alpha) == (4, 5, 0.2)
    fashion = recipe.load("fashion-mnist")
    assert fashion.sections["model"].preset == "vision-small" and fashion.sections["data"].format == "fashion-mnist"


def test_a_model_that_does_not_fit_the_data_is_an_error(tree):
    data = ImageDataConfig(root=str(tree), channels=1)
    with pytest.raises(ValueError, match=r"model\.in_channels: expected 1 \(data\.channels\), got 3"):
        ImageClassificationTask(model_section("vision-small")(**TINY), data, AUGMENT)
    with pytest.raises(ValueError, match=r"model\.image_size: expected \[24, 24\] \(augment\.crop_size\)"):
        ImageClassificationTask(
            model_section("vision-small")(**TINY), ImageDataConfig(root=str(tree)), AugmentConfig(crop_size=24)
        )
