"""Reading and writing real video files: sizes, timing, audio resampling, and clear errors for bad files."""

import logging

import av
import numpy as np
import pytest
import torch

from torchperceiver.models.multimodal.clips import EvalClips, TrainClips, VideoFile, list_videos
from torchperceiver.models.multimodal.video import ClipError, ClipFormat, read_clip, resize_cover, write_clip

FMT = ClipFormat(num_frames=4, image_size=(16, 16), num_samples=2560, fps=25)  # 16 kHz


def red(index: int) -> int:
    """Frame ``index`` of a fixture clip is this red (conftest.py)."""
    return 12 * index


def test_clip_format_derives_the_sample_rate():
    assert FMT.sample_rate == 16000 and FMT.duration == pytest.approx(0.16)
    assert ClipFormat().sample_rate == 48000, "the paper: 30,720 samples under 16 frames at 25 fps"
    with pytest.raises(ValueError, match="num_samples"):
        ClipFormat(num_frames=3, num_samples=1000, fps=25)


def test_read_clip_sizes_ranges_and_timing(clip_path):
    clip = read_clip(clip_path, FMT, start=0.12)
    assert clip["image"].shape == (4, 3, 16, 16) and clip["audio"].shape == (2560,)
    assert clip["image"].min() >= -1 and clip["image"].max() <= 1
    reds = ((clip["image"][:, 0].mean(dim=(1, 2)) + 1) * 127.5).tolist()
    assert reds == pytest.approx([red(i) for i in (3, 4, 5, 6)], abs=4), "frame k of the clip is frame start·fps + k"
    audio = clip["audio"].numpy()
    rms = np.sqrt(np.mean(audio**2))
    assert rms == pytest.approx(0.5, rel=0.1), "FFmpeg's stereo downmix (L + R) / √2 of a 0.5 sine: rms 0.5"
    zero_crossings = np.count_nonzero(np.diff(np.sign(audio[100:-100])))
    assert zero_crossings / (2 * (len(audio) - 200) / 16000) == pytest.approx(440, rel=0.05), "resampled to 16 kHz"


def test_frame_rate_is_resampled(tmp_path, write_video):
    path = write_video(tmp_path / "fast.mp4", frames=16, fps=50)
    clip = read_clip(path, FMT, start=0.0)
    reds = ((clip["image"][:, 0].mean(dim=(1, 2)) + 1) * 127.5).tolist()
    assert reds == pytest.approx([red(i) for i in (0, 2, 4, 6)], abs=4), "50 fps read at 25 fps: every other frame"


def test_resize_covers_then_crops_the_centre():
    frames = torch.zeros(1, 3, 20, 40, dtype=torch.uint8)
    frames[..., 10:30] = 255  # a white centre half
    out = resize_cover(frames, (10, 10))
    assert out.shape == (1, 3, 10, 10) and out.dtype == torch.uint8
    assert (out[..., 1:-1] == 255).all(), "the cropped centre is the white half (edges antialiased)"


def test_write_then_read_round_trips(tmp_path, clip_path):
    clip = read_clip(clip_path, FMT, start=0.0)
    out = write_clip(tmp_path / "copy.mp4", clip["image"], clip["audio"], FMT.fps, FMT.sample_rate)
    again = read_clip(out, FMT, start=0.0)
    assert (again["image"] - clip["image"]).abs().mean() < 0.05
    assert np.corrcoef(again["audio"].numpy(), clip["audio"].numpy())[0, 1] > 0.9, "audio in step with the video"


def test_rates_aac_lacks_are_written_at_a_multiple(tmp_path, clip_path):
    """AAC has no 4 kHz: the mp4 gets 8 kHz, and reads back at 4 kHz in step with the video."""
    fmt = ClipFormat(num_frames=4, image_size=(16, 16), num_samples=640, fps=25)
    assert fmt.sample_rate == 4000
    clip = read_clip(clip_path, fmt, start=0.0)
    out = write_clip(tmp_path / "low.mp4", clip["image"], clip["audio"], fmt.fps, fmt.sample_rate)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].rate == 8000
    again = read_clip(out, fmt, start=0.0)
    assert np.corrcoef(again["audio"].numpy(), clip["audio"].numpy())[0, 1] > 0.8


def test_bad_files_are_reported_by_path(tmp_path, clip_path, write_video):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(ClipError, match=r"garbage\.mp4: cannot be decoded"):
        read_clip(garbage, FMT)
    silent = write_video(tmp_path / "silent.mp4", audio=False)
    with pytest.raises(ClipError, match=r"silent\.mp4: has no audio stream"):
        read_clip(silent, FMT)
    with pytest.raises(ClipError, match=r"clip\.mp4: too short"):
        read_clip(clip_path, FMT, start=0.4)


def test_datasets_skip_or_fail_on_bad_files(tmp_path, clip_path, write_video, caplog):
    silent = write_video(tmp_path / "silent.mp4", audio=False)
    files = [VideoFile(silent, 1), VideoFile(clip_path, 0)]
    with caplog.at_level(logging.WARNING):
        item = EvalClips(files, FMT, on_error="skip")[0]
    assert item["label"] == 0, "the next good file stands in"
    assert "silent.mp4: has no audio stream" in caplog.text
    with pytest.raises(ClipError, match=r"silent\.mp4"):
        EvalClips(files, FMT, on_error="fail")[0]


def test_eval_starts_are_fixed_and_train_starts_a_function_of_seed_and_index(clip_path):
    files = [VideoFile(clip_path, 0)]
    clips = EvalClips(files, FMT, clips_per_video=2)
    assert len(clips) == 2
    assert torch.equal(clips[0]["image"], clips[0]["image"])
    assert not torch.equal(clips[0]["image"], clips[1]["image"]), "two clips spread over the file"
    train = TrainClips(files, FMT, seed=3, cache=True)
    uncached = TrainClips(files, FMT, seed=3)[5]
    assert torch.equal(train[5]["image"], uncached["image"]), "the cache changes nothing"
    assert (train[5]["audio"] - uncached["audio"]).abs().max() < 0.1, "up to half a sample of timing"
    starts = {round(float(train[i]["image"][0, 0].mean()), 3) for i in range(8)}
    assert len(starts) > 1, "random starts"


def test_sources_csv_and_folder_per_class(tmp_path, clip_path):
    for name in ("walk", "jump"):
        (tmp_path / "classes" / name).mkdir(parents=True)
        (tmp_path / "classes" / name / "a.mp4").write_bytes(clip_path.read_bytes())
    files, classes = list_videos(str(tmp_path / "classes"))
    assert classes == ("jump", "walk") and [f.label for f in files] == [0, 1]
    (tmp_path / "list.csv").write_text("path,label\nclasses/walk/a.mp4,walk\nclasses/jump/a.mp4,jump\n")
    files, classes = list_videos(str(tmp_path / "list.csv"))
    assert classes == ("jump", "walk") and [f.label for f in files] == [1, 0]
    assert files[0].path == tmp_path / "classes" / "walk" / "a.mp4", "relative to the CSV"
    (tmp_path / "kinetics.csv").write_text("label,youtube_id,time_start,time_end,split\n3,abc,10,20,train\n")
    files, classes = list_videos(str(tmp_path / "kinetics.csv"))
    assert classes == () and files == [VideoFile(tmp_path / "abc_000010_000020.mp4", 3)]
    with pytest.raises(ValueError, match="source"):
        list_videos(str(tmp_path / "missing"))
