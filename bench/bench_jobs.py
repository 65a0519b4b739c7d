"""Units side by side: the wall time of a stage of pretraining runs, one at a time or two at once.

    .venv/bin/python bench/bench_jobs.py [--rows be_paper moco_paper] [--steps 150]
                                         [--data data/synth] [--out bench/results/bench_jobs.json]

The book's ``cpu`` profile (``r3d_tiny``, 8-frame clips at stride 2, batch 64) pretrains
``--rows`` (one seed each) for ``--steps`` steps through :func:`run_comparison`, three ways,
each in a fresh output folder on the same data:

* ``jobs=1 workers=2``: one run after the other in this process, all threads, two loader
  processes (the ``cpu`` profile before ``jobs`` existed);
* ``jobs=1 workers=0``: the same without loader processes (the decoded videos stay in memory
  after their first read);
* ``jobs=2 workers=0``: two runs at once, each in a process of its own with half the threads
  (the ``cpu`` profile now).

It prints the wall time of each and its ratio to the first (one run per setting: the machine
should be otherwise idle). The data are made with ``tbe data synth`` when ``--data`` is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tbe_lib.data.synth import config_for, generate  # noqa: E402
from tbe_lib.experiment import profile_config, run_comparison  # noqa: E402
from tbe_lib.utils import usable_cpus  # noqa: E402

SETTINGS = ((1, 2), (1, 0), (2, 0))  # (jobs, workers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", default=["be_paper", "moco_paper"])
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "synth")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bench_jobs.json")
    args = ap.parse_args(argv)
    generate(args.data, config_for("default"), progress=False)  # reused when it is there
    base = profile_config("cpu", root=ROOT)
    results = []
    with tempfile.TemporaryDirectory(prefix="tbe-jobs-") as tmp:
        for jobs, workers in SETTINGS:
            cfg = dataclasses.replace(
                base,
                out_dir=str(Path(tmp) / f"jobs{jobs}-workers{workers}"),
                data_dirs={"static": str(args.data)},
                conditions={"static": (0,)},
                rows=tuple(args.rows),
                pretrain_steps=args.steps,
                jobs=jobs,
                workers=workers,
            )
            start = time.perf_counter()
            run_comparison(cfg, stages=("pretrain",))
            seconds = time.perf_counter() - start
            results.append({"jobs": jobs, "workers": workers, "seconds": round(seconds, 1)})
            print(f"jobs={jobs} workers={workers}: {seconds:.1f} s", flush=True)
    first = results[0]["seconds"]
    for r in results:
        r["speed-up"] = round(first / r["seconds"], 2)
        print(f"jobs={r['jobs']} workers={r['workers']}: {r['speed-up']:.2f}x the throughput of the first")
    record = {
        "rows": args.rows,
        "steps": args.steps,
        "cpus": usable_cpus(),
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
