"""How fast may the actor move? The positive control against random init, and the single-frame
leak, per translation speed of the benchmark.

    .venv/bin/python bench/bench_control.py [--speeds 0.015:0.03 0.0075:0.015] [--seeds 0 1 2]
                                            [--out bench/results/bench_control.json]

For each ``speed`` range (``SynthConfig.speed``: fractions of the frame's short side per frame;
benchmark v4 moved at ``0.015:0.03``, v5 at ``0.01125:0.0225``) it renders the default benchmark
(static camera; the band a torus, so no frame index tells the class) and measures:

* ``frame_leak`` on ``test_shift`` (one frame at a fixed index, 5-fold logistic regression);
* chapter 2's supervised motion check (the ceiling row's recipe, 40 epochs, one seed);
* the ``cpu`` profile's ``pan_direction`` pretraining (the positive control) and the motion
  probes of it and of random init, for each seed, as chapters 3 and 4 make them
  (``run_comparison`` with the rows ``random`` and ``pan_direction``, stages pretrain and
  retrieve), and their paired difference with its 95 % t interval: the number that chapter 7
  needs above zero.

On 2 cores: about 4 minutes per speed for 3 seeds. ``bench/RESULTS.md``, "benchmark v5", says
which speed the benchmark took and why.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tbe_lib.book.experiment import experiment, motion_check_config  # noqa: E402
from tbe_lib.book.helpers import frame_leak  # noqa: E402
from tbe_lib.experiment import bring_up_to_date, ensure_data, profile_config, run_comparison, run_step  # noqa: E402

ROWS = ("random", "pan_direction")


def measure(speed: tuple[float, float], seeds: list[int], work: Path) -> dict:
    name = f"{speed[0]}-{speed[1]}"
    t0 = time.perf_counter()
    # The cpu profile's comparison on the benchmark rendered at this speed, in a folder of its own.
    cfg = profile_config(
        "cpu",
        {
            "synth": {"speed": list(speed)},
            "data_dirs": {"static": str(work / f"data-{name}")},
            "out_dir": str(work / f"runs-{name}"),
            "rows": ROWS,
        },
    )
    cfg = dataclasses.replace(cfg, conditions={"static": tuple(seeds)})
    data = ensure_data(cfg, "static")
    leak = frame_leak(data / "lists" / "test_shift.txt")
    # Chapter 2's supervised motion check (40 epochs, one seed).
    fc = motion_check_config(experiment("cpu"), profile="cpu", data=data, epochs=40, batch=32)
    fc = dataclasses.replace(fc, run_dir=str(work / f"motion-{name}"))
    bring_up_to_date(run_step(fc, f"motion check, speed {speed}"))
    check = json.loads((Path(fc.run_dir) / "results.json").read_text())["results"]["test_shift"]["video_top1"]
    out = run_comparison(cfg, stages=("pretrain", "retrieve"))
    motion = {
        row: [
            json.loads((out / f"static/seed{s}/retrieval_{row}/retrieval.json").read_text())["motion_probe"][
                "accuracy"
            ]["test_shift"]
            for s in seeds
        ]
        for row in ROWS
    }
    diff = np.array(motion["pan_direction"]) - np.array(motion["random"])
    half = (
        float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)))
        if len(diff) > 1
        else float("nan")
    )
    return {
        "speed": list(speed),
        "seeds": seeds,
        "motion_probe_test_shift": motion,
        "pan_minus_random": round(float(diff.mean()), 2),
        "interval": [round(float(diff.mean()) - half, 2), round(float(diff.mean()) + half, 2)],
        "motion_check_test_shift": check,
        "leak_max": round(100 * float(leak.accuracy.max()), 1),
        "leak_max_frame": int(leak.frame[leak.accuracy.idxmax()]),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speeds", nargs="+", default=["0.015:0.03", "0.01125:0.0225", "0.00975:0.0195", "0.0075:0.015"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bench_control.json")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tbe-speed-") as tmp:
        for text in args.speeds:
            speed = (float(text.split(":")[0]), float(text.split(":")[1]))
            row = measure(speed, args.seeds, Path(tmp))
            rows.append(row)
            args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")  # what is done so far
            m = row["motion_probe_test_shift"]
            print(
                f"speed {speed[0]}-{speed[1]}: motion probe random {m['random']}, pan {m['pan_direction']}; "
                f"pan - random {row['pan_minus_random']:+.1f} [{row['interval'][0]:+.1f}, {row['interval'][1]:+.1f}]; "
                f"motion check {row['motion_check_test_shift']:.1f} %; "
                f"single frame max {row['leak_max']:.1f} % (index {row['leak_max_frame']}); {row['seconds']:.0f} s",
                flush=True,
            )
    args.out.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
