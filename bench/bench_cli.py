"""Start-up time of the `tbe` command line: `tbe --help` (stages listed, not imported) against
building the parser with every stage module loaded (what `tbe --help` did before).

Run:  .venv/bin/python bench/bench_cli.py [--reps 7]

Each repetition runs both in fresh interpreters, interleaved; medians are printed with their
ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=7)
    a = p.parse_args()
    cmds = {
        "tbe --help": [sys.executable, "-m", "tbe_lib.cli", "--help"],
        "parser with every stage": [
            sys.executable,
            "-c",
            "from tbe_lib.cli import build_parser; build_parser(None).format_help()",
        ],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(a.reps):
        for k, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:26s} median {v * 1000:7.0f} ms  (min {min(times[k]) * 1000:.0f}, max {max(times[k]) * 1000:.0f})")
    print(f"ratio: {med['parser with every stage'] / med['tbe --help']:.1f}x")


if __name__ == "__main__":
    main()
