"""The multimodal-ae task: the paper's loss on subsampled points, full-reconstruction metrics, a short training
run on a real file and ``predict reconstruct`` on its checkpoint."""

import pytest
import torch
import torch.nn.functional as F

from torchperceiver.cli import main
from torchperceiver.models.multimodal.quality import compression, mean_video, psnr
from torchperceiver.models.multimodal.reconstruct import reconstruct
from torchperceiver.models.multimodal.task import MultimodalAutoencodingTask, MultimodalDataConfig, MultimodalLossConfig
from torchperceiver.presets import build, model_section
from torchperceiver.training import recipe
from torchperceiver.training.trainer import Trainer

SMALL = dict(
    num_latents=8,
    latent_dim=32,
    num_layers=1,
    num_self_heads=2,
    num_frames=4,
    image_size=(16, 16),
    video_patch=(1, 8, 8),  # as multimodal-tiny: few, large video patches
    num_samples=2560,  # 16 kHz at 25 fps
    num_classes=2,
    audio_num_bands=4,
    image_num_bands=4,
    label_query_dim=8,
    output_dim=16,
)
OVERRIDES = [f"model.{key}={list(value) if isinstance(value, tuple) else value}" for key, value in SMALL.items()]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task(clip_path):
    data = MultimodalDataConfig(train=str(clip_path), cache=True)
    return MultimodalAutoencodingTask(model_section("multimodal-ae")(**SMALL), data, MultimodalLossConfig(), seed=0)


def _batch(task, n=2):
    return torch.utils.data.default_collate([task.train_dataset()[i] for i in range(n)])


def test_training_loss_is_the_papers_on_the_decoded_points(task):
    model = task.build_model()
    batch = _batch(task)
    torch.manual_seed(1)
    out = task.loss(model, batch)
    assert out.count == 2 and set(out.metrics) == {"video_l1", "audio_l1", "label_ce"}
    video_l1, audio_l1, label_ce = (out.metrics[k][0] / 2 for k in ("video_l1", "audio_l1", "label_ce"))
    assert (out.loss / 2).item() == pytest.approx((0.03 * video_l1 + audio_l1 + 1e-4 * label_ce).item(), rel=1e-5)
    out.loss.backward()
    assert model.output_adapter.modalities["image"].head.weight.grad.abs().sum() > 0


def test_training_decodes_the_chosen_points(task):
    model = task.build_model()
    batch = _batch(task)
    torch.manual_seed(1)
    out = task.loss(model, batch)
    torch.manual_seed(1)
    pixels = torch.randperm(4 * 16 * 16)[:512]
    patches = torch.randperm(2560 // 16)[:512]
    decoded = model(task.inputs(batch), subsampled_points={"image": pixels, "audio": patches})
    target = batch["image"].permute(0, 1, 3, 4, 2).flatten(1, 3)[:, pixels]
    assert decoded["image"].shape == (2, 512, 3) and decoded["audio"].shape == (2, 160 * 16)
    expected = (decoded["image"] - target).abs().mean().item()
    assert (out.metrics["video_l1"][0] / 2).item() == pytest.approx(expected, rel=1e-5)


def test_eval_metrics_use_full_reconstructions_and_the_mean_baseline(task):
    model = task.build_model().eval()
    batch = _batch(task)
    out = task.loss(model, batch)
    full = reconstruct(model, task.inputs(batch))
    expected = psnr(full["image"], batch["image"]).sum()
    assert torch.allclose(out.metrics["video_psnr"][0], expected, atol=1e-3)
    baseline = psnr(mean_video(batch["image"]), batch["image"]).sum()
    assert torch.allclose(out.metrics["baseline_video_psnr"][0], baseline)
    assert {"audio_psnr", "baseline_audio_psnr", "label_accuracy"} <= set(out.metrics)


def test_label_names_come_from_the_classes_when_they_fit(tmp_path, clip_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.mp4").write_bytes(clip_path.read_bytes())
    data = MultimodalDataConfig(train=str(tmp_path), cache=True)
    task = MultimodalAutoencodingTask(model_section("multimodal-ae")(**SMALL), data, MultimodalLossConfig())
    assert task.build_model().config.output_adapter.modalities["label"].labels == ("a", "b")
    with pytest.raises(ValueError, match=r"model\.num_classes"):
        small = {**SMALL, "num_classes": 1}
        MultimodalAutoencodingTask(model_section("multimodal-ae")(**small), data, MultimodalLossConfig())


def test_psnr_and_compression():
    x = torch.zeros(1, 10)
    assert psnr(x + 0.02, x).item() == pytest.approx(10 * torch.log10(torch.tensor(4 / 0.0004)).item())
    model = build("multimodal-ae", **SMALL)
    sizes = compression(model, model.example_inputs(1)[0])
    assert sizes.positions == 4 * 2 * 2 + 2560 // 16 + 1 and sizes.latent_values == 8 * 32  # 8×8 video patches
    assert sizes.video_positions == 16 and sizes.signal_values == 4 * 3 * 16 * 16 + 2560 + 2
    assert sizes.channels == 8 * 8 * 3 + 3 * (2 * 4 + 1) + 4  # patch, Fourier features, minimum padding
    assert sizes.paper_ratio == pytest.approx(16 * sizes.channels / 256)


def test_short_run_then_predict_reconstruct(tmp_path, clip_path, write_video, capsys):
    run = tmp_path / "run"
    settings = [
        f"data.train={clip_path}",
        "data.train_window=null",
        "data.eval_window=null",
        "data.eval_clips_per_video=2",
        "loss.video_points=64",
        "loss.audio_points=32",
        "train.steps=3",
        "train.batch_size=2",
        "train.log_every=1",
        "train.eval_every=3",
        "train.checkpoint_every=3",
        "train.progress=false",
        "train.tensorboard=false",
        "train.threads=1",
    ]
    task_recipe = recipe.load("multimodal-tiny", OVERRIDES + settings)
    result = Trainer(task_recipe.build_task(), task_recipe.optim, task_recipe.train, run).fit()
    assert result.step == 3 and "eval/video_psnr" in result.metrics and "eval/baseline_audio_psnr" in result.metrics
    assert "video PSNR" in result.demo and {p.name for p in result.artefacts} == {
        "recon.mp4",
        "recon-frames.png",
        "recon-audio.png",
    }
    other = write_video(tmp_path / "other.mp4", frames=20, size=(30, 50), fps=30, rate=48000)
    out = tmp_path / "out" / "recon.mp4"
    code = main(["predict", "reconstruct", "--checkpoint", str(run), str(other), "--out", str(out), "--start", "0.1"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "4 frames of 16×16 at 25 fps, 2560 samples at 16000 Hz" in printed
    assert "compression" in printed and "video PSNR" in printed and "top classes" in printed
    assert out.is_file() and (out.parent / "recon-frames.png").is_file() and (out.parent / "recon-audio.png").is_file()
    from torchperceiver.models.multimodal.video import ClipFormat, read_clip

    again = read_clip(out, ClipFormat(4, (16, 16), 2560, 25))
    assert again["image"].shape == (4, 3, 16, 16) and again["audio"].shape == (2560,)


def test_predict_reconstruct_reports_bad_clips(tmp_path, write_video, capsys):
    model_dir = tmp_path / "model"
    build("multimodal-ae", **SMALL).save_pretrained(model_dir)
    silent = write_video(tmp_path / "silent.mp4", audio=False)
    assert main(["predict", "reconstruct", "--checkpoint", str(model_dir), str(silent)]) != 0
    assert "silent.mp4: has no audio stream" in capsys.readouterr().err
    short = write_video(tmp_path / "short.mp4", frames=2)
    assert main(["predict", "reconstruct", "--checkpoint", str(model_dir), str(short)]) != 0
    assert "short.mp4: too short" in capsys.readouterr().err


def test_one_hot_label_input(task):
    batch = _batch(task)
    inputs = task.inputs(batch)
    assert torch.equal(inputs["label"], F.one_hot(batch["label"], 2).float())


def test_head_init_scale_shrinks_the_first_outputs(clip_path):
    data = MultimodalDataConfig(train=str(clip_path), cache=True)
    loss = MultimodalLossConfig(head_init_scale=0.0)
    model = MultimodalAutoencodingTask(model_section("multimodal-ae")(**SMALL), data, loss).build_model()
    out = model(model.example_inputs(1)[0], subsampled_points={"image": torch.arange(8), "audio": torch.arange(4)})
    assert out["audio"].abs().max() == 0 and out["image"].abs().max() == 0
