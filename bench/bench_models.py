"""Training throughput of r3d_tiny on CPU: forward + backward + SGD step, in clips/s.

Usage: python bench/bench_models.py [--threads 2] [--batch 16] [--iters 5] [--rounds 3]

For 16x64x64 and 8x32x32 clips it times the default r3d_tiny, the (2+1)-D variant and a
ResNet-style stem (stride-2 conv + max-pool), each with contiguous and channels_last_3d
inputs/weights. Configurations are interleaved over ``--rounds`` rounds so that load
from other processes hits them alike; the printed number is the median over all timed
steps, and the ratio is channels_last / contiguous from the same run. The 1-minute load
average is printed: on a shared machine, numbers taken under load are lower and noisier.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from tbe_lib.models import build_model

CONFIGS: dict[str, dict[str, Any]] = {
    "default (3d)": {},
    "block=2plus1d": {"block": "2plus1d"},
    "resnet stem s2+pool": {"stem_stride": (1, 2, 2), "stem_pool": True},
}
SHAPES = [(16, 64, 64), (8, 32, 32)]


class TrainStep:
    """One r3d_tiny classifier + SGD, ready to time ``step()`` on fixed random clips."""

    def __init__(self, shape: tuple[int, int, int], batch: int, channels_last: bool, **backbone_kw: Any) -> None:
        torch.manual_seed(0)
        self.model = build_model("r3d_tiny", head="classifier", num_classes=10, **backbone_kw).train()
        self.x = torch.randn(batch, 3, *shape)  # (B, 3, T, H, W)
        self.y = torch.randint(0, 10, (batch,))
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
            self.x = self.x.contiguous(memory_format=torch.channels_last_3d)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)

    def step(self) -> float:
        """Seconds for one forward + backward + optimiser step."""
        t0 = time.perf_counter()
        loss = F.cross_entropy(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--iters", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    runs = {
        (name, shape, cl): TrainStep(shape, args.batch, cl, **kw)
        for name, kw in CONFIGS.items()
        for shape in SHAPES
        for cl in (False, True)
    }
    for run in runs.values():
        for _ in range(args.warmup):
            run.step()
    times: dict[Any, list[float]] = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key, run in runs.items():
            times[key] += [run.step() for _ in range(args.iters)]

    print(
        f"r3d_tiny train step (fwd+bwd+SGD), batch {args.batch}, {args.threads} threads, "
        f"median of {args.rounds}x{args.iters} steps, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'config':<22}{'clip':>10}{'contiguous':>14}{'channels_last':>16}{'ratio':>8}")
    for name in CONFIGS:
        for shape in SHAPES:
            rate = [args.batch / statistics.median(times[(name, shape, cl)]) for cl in (False, True)]
            clip = "x".join(map(str, shape))
            print(f"{name:<22}{clip:>10}{rate[0]:>10.1f}/s  {rate[1]:>12.1f}/s  {rate[1] / rate[0]:>6.2f}")


if __name__ == "__main__":
    main()
