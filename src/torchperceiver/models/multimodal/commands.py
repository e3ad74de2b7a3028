"""``torchperceiver predict reconstruct``: a video file through a multimodal autoencoder and back."""

from __future__ import annotations

import argparse
from pathlib import Path

from torchperceiver.commands import register_command, top_classes
from torchperceiver.core.io import load_model
from torchperceiver.core.model import PerceiverIO
from torchperceiver.models.multimodal.predict import reconstruct_file
from torchperceiver.models.multimodal.quality import multimodal_configs


@register_command("predict", "reconstruct", help="reconstruct a video clip (frames and audio) with an autoencoder")
class PredictReconstruct:
    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("clip", type=Path, help="a video file with audio (any size, rate and length)")
        parser.add_argument("--checkpoint", type=Path, required=True, help="run, checkpoint or model directory")
        parser.add_argument(
            "--out", type=Path, default=Path("recon.mp4"), help="reconstructed clip (default: recon.mp4)"
        )
        parser.add_argument("--start", type=float, default=0.0, help="seconds into the file where the clip starts")
        parser.add_argument("--fps", type=float, default=25.0, help="frame rate the model was trained at (default: 25)")
        parser.add_argument("--audio-gain", type=float, default=1.0, help="the recipe's data.audio_gain (default: 1)")
        parser.add_argument("--chunk-size", type=int, default=16384, help="output points decoded at once")
        parser.add_argument("--top-k", type=int, default=5, help="classes to print when the model has labels")
        parser.add_argument("--device", default="cpu")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        for name in ("chunk_size", "top_k"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: expected a positive int, got {getattr(args, name)}")
        if args.start < 0:
            raise ValueError(f"--start: expected >= 0 seconds, got {args.start}")
        if not args.clip.is_file():
            raise ValueError(f"clip: expected a video file, got {str(args.clip)!r} (not a file)")
        model = load_model(args.checkpoint, args.device)
        result = reconstruct_file(
            model,
            args.clip,
            args.out,
            fps=args.fps,
            start=args.start,
            chunk_size=args.chunk_size,
            audio_gain=args.audio_gain,
        )
        fmt, scores = result.fmt, result.psnrs()
        print(
            f"clip: {args.clip.name} from {args.start:g} s: {fmt.num_frames} frames of "
            f"{fmt.image_size[0]}×{fmt.image_size[1]} at {fmt.fps:g} fps, "
            f"{fmt.num_samples} samples at {fmt.sample_rate} Hz"
        )
        print(result.compression.describe())
        print(f"video PSNR {scores['video']:.2f} dB (per-clip mean colour: {scores['baseline video']:.2f} dB)")
        print(f"audio PSNR {scores['audio']:.2f} dB (per-clip mean: {scores['baseline audio']:.2f} dB)")
        label = result.outputs.get("label")
        if label is not None and label.shape[-1] > 1:
            names = _label_names(model, label.shape[-1])
            masked = multimodal_configs(model)[0].eval_mask_probs.get("label", 0.0) == 1.0
            how = "label masked" if masked else "label input all zeros"
            print(f"top classes ({how}): {top_classes(label[0].softmax(-1), names, args.top_k)}")
        print("wrote " + ", ".join(str(path) for path in result.files))
        return 0


def _label_names(model: PerceiverIO, num_classes: int) -> list[str]:
    labels = tuple(getattr(multimodal_configs(model)[1].modalities["label"], "labels", ()) or ())
    return list(labels) if len(labels) == num_classes else [f"class {i}" for i in range(num_classes)]
