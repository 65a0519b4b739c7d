"""Benchmark: generating the embedded background-trap benchmark.

    .venv/bin/python bench/bench_synth.py [--size default|smoke|larger] [--workers 2] [--camera static]
                                          [--samples 50] [--no-full] [--json out.json]

Reports, in one process:

* ``render``: median time to render one video in memory (``render_video``), over ``--samples``
  videos of the ``train`` split (photographs already loaded).
* ``encode``: median time to encode one rendered video to .mp4 (``write_video``).
* ``full``: wall time of one ``generate()`` of the whole preset into a temporary folder with
  ``--workers`` processes (including process start-up and photograph loading), and videos/s.

Target (issue "embedded benchmark"): the default preset in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from tbe_lib.data.synth import config_for, generate, render_video, resolve_codec, write_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="default", choices=["default", "smoke", "larger"])
    ap.add_argument("--camera", default="static", choices=["static", "jitter", "pan"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--no-full", action="store_true", help="skip the full generation")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    cfg = config_for(args.size, camera=args.camera)
    render_video(cfg, "train", 0)  # warm-up: loads digits and photographs
    n = min(args.samples, cfg.n_train)
    render_s, encode_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            t0 = time.perf_counter()
            frames, _ = render_video(cfg, "train", i)
            t1 = time.perf_counter()
            write_video(Path(tmp) / "v.mp4", frames, cfg.fps, cfg.codec, cfg.gop, crf=cfg.crf)
            t2 = time.perf_counter()
            render_s.append(t1 - t0)
            encode_s.append(t2 - t1)
    result = {
        "size": args.size,
        "camera": args.camera,
        "frames x HxW": f"{cfg.frames} x {cfg.height}x{cfg.width}",
        "videos": sum(cfg.counts().values()),
        "codec": resolve_codec(cfg.codec),
        "render_ms_median": 1e3 * statistics.median(render_s),
        "encode_ms_median": 1e3 * statistics.median(encode_s),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    if not args.no_full:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            generate(Path(tmp) / "synth", cfg, workers=args.workers, progress=False)
            full = time.perf_counter() - t0
        result.update(workers=args.workers, full_s=full, videos_per_s=result["videos"] / full)
    for k, v in result.items():
        print(f"{k:>18}: {v:.2f}" if isinstance(v, float) else f"{k:>18}: {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
