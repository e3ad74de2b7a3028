"""Wall time and peak memory of the real ``optical-flow`` preset on one Sintel-sized (1024×436) frame pair.

Random weights, random frames: the cost does not depend on them. Peak memory is the process's maximum
resident set size (``getrusage``), which counts everything torch allocates on the CPU; run this alone, in a
fresh process, for a clean number. ``cpu_s`` and the load average show how much other processes slowed it.

    python benchmarks/flow_sintel_memory.py [--tile-batch 1] [--chunk-size 16384] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import torch

import torchperceiver as tp
from torchperceiver.models.flow.tiling import predict_flow, tile_starts

SINTEL = (436, 1024)


def max_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile-batch", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=16384)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = tp.build("optical-flow", decoder_chunk_size=args.chunk_size).eval()
    frame1, frame2 = (torch.rand(3, *SINTEL) * 2 - 1 for _ in range(2))
    rss_model = max_rss_mib()
    train_h, train_w = model.config.input_adapter.train_size
    tiles = len(tile_starts(SINTEL[0], train_h, 20)) * len(tile_starts(SINTEL[1], train_w, 20))

    start, cpu_start = time.perf_counter(), time.process_time()
    flow = predict_flow(model, frame1, frame2, tile_batch=args.tile_batch)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    result = {
        "image": f"{SINTEL[1]}x{SINTEL[0]}",
        "tiles": tiles,
        "tile_batch": args.tile_batch,
        "chunk_size": args.chunk_size,
        "threads": torch.get_num_threads(),
        "wall_s": round(seconds, 1),
        "s_per_tile": round(seconds / tiles, 1),
        "cpu_s": round(cpu_seconds, 1),  # all threads; compare with wall_s × threads to see contention
        "load_average_1min": round(os.getloadavg()[0], 1),
        "max_rss_mib_after_build": round(rss_model),
        "max_rss_mib": round(max_rss_mib()),
        "flow_shape": list(flow.shape),
        "finite": bool(torch.isfinite(flow).all()),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
