"""Where may the actor be? Chapter 2's supervised motion check and single-frame leak, per band.

    .venv/bin/python bench/bench_motion_check.py [--bands 0:1 0.25:0.75 0.3:0.7 0.4:0.6] [--epochs 40]
                                                 [--out bench/results/bench_motion_check.json]

For each ``centre_band`` (the actor's place at the middle frame, fractions of each axis; ``0:1``
is benchmark v2's whole torus), it renders the benchmark's ``train_unbiased`` and ``test_shift``
splits (the others empty), trains chapter 2's motion check on them (the table's ceiling row,
the ``cpu`` profile's clips: 8 frames at stride 2, 32x32; ``--epochs`` epochs of 32 clips) and
measures ``frame_leak`` on ``test_shift`` (one frame at a fixed index, 5-fold logistic
regression). One seed, one run per band: the table says which bands the CPU backbone can learn
the motion in, and what a single frame gives away in each (benchmark v3 chose ``0.3:0.7``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tbe_lib.book.experiment import experiment, motion_check_config  # noqa: E402
from tbe_lib.book.helpers import frame_leak  # noqa: E402
from tbe_lib.data.sampling import center_clip  # noqa: E402
from tbe_lib.data.synth import config_for, generate  # noqa: E402
from tbe_lib.experiment import bring_up_to_date, run_step  # noqa: E402


def measure(band: tuple[float, float], work: Path, epochs: int) -> dict:
    cfg = config_for("default", centre_band=band, n_pretrain=0, n_train=0, n_test_same=8)
    data = generate(work / f"data-{band[0]}-{band[1]}", cfg, progress=False)
    exp = experiment("cpu")
    fc = motion_check_config(exp, profile="cpu", data=data, epochs=epochs, batch=32)
    fc = dataclasses.replace(fc, run_dir=str(work / f"motion-{band[0]}-{band[1]}"))
    t0 = time.perf_counter()
    bring_up_to_date(run_step(fc, f"motion check, band {band}"))
    seconds = time.perf_counter() - t0
    results = json.loads((Path(fc.run_dir) / "results.json").read_text())["results"]
    clip = center_clip(cfg.frames, exp.frames, exp.stride)
    leak = frame_leak(data / "lists" / "test_shift.txt", frames=sorted({0, 4, 8, 12, 16, 20, 24, 28, cfg.frames - 1}))
    inside = leak[(leak.frame >= clip[0]) & (leak.frame <= clip[-1])]
    return {
        "centre_band": list(band),
        "motion_check_test_shift": results["test_shift"]["video_top1"],
        "train_seconds": round(seconds, 1),
        "leak_max": round(100 * float(leak.accuracy.max()), 1),
        "leak_max_frame": int(leak.frame[leak.accuracy.idxmax()]),
        "leak_max_in_test_clip": round(100 * float(inside.accuracy.max()), 1),
        "leak": {int(f): round(100 * float(a), 1) for f, a in zip(leak.frame, leak.accuracy)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bands", nargs="+", default=["0:1", "0.25:0.75", "0.3:0.7", "0.4:0.6"])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bench_motion_check.json")
    args = ap.parse_args(argv)
    bands = [tuple(float(v) for v in b.split(":")) for b in args.bands]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tbe-band-") as tmp:
        for band in bands:
            row = measure(band, Path(tmp), args.epochs)
            rows.append(row)
            print(
                f"band {band[0]:.2f}-{band[1]:.2f}: motion check {row['motion_check_test_shift']:.1f} % on test_shift "
                f"(chance 12.5); single frame: max {row['leak_max']:.1f} % (index {row['leak_max_frame']}), "
                f"{row['leak_max_in_test_clip']:.1f} % within the test clip",
                flush=True,
            )
    args.out.write_text(json.dumps({"epochs": args.epochs, "rows": rows}, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
