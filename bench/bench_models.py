"""Training throughput of r3d_tiny on CPU: forward + backward + SGD step, clips/s.

Usage: python bench/bench_models.py [--threads 2] [--batch 16] [--iters 10]

Prints the median over timed iterations (after warm-up) for 16x64x64 and 8x32x32
clips, with contiguous and channels_last_3d memory formats, and the ratio between them.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from tbe_lib.models import build_model


def train_clips_per_second(
    shape: tuple[int, int, int], *, batch: int, iters: int, warmup: int, channels_last: bool, **backbone_kw
) -> float:
    """Median clips/s of a classifier-head r3d_tiny training step on (batch, 3, *shape) clips."""
    torch.manual_seed(0)
    model = build_model("r3d_tiny", head="classifier", num_classes=10, **backbone_kw).train()
    x = torch.randn(batch, 3, *shape)
    y = torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"r3d_tiny train step (fwd+bwd+SGD), batch {args.batch}, {args.threads} threads, "
          f"median of {args.iters} iters, torch {torch.__version__}")
    print(f"{'config':<22}{'clip':>10}{'contiguous':>13}{'channels_last':>15}{'ratio':>8}")
    for label, kw in [("default (3d)", {}), ("block=2plus1d", {"block": "2plus1d"})]:
        for shape in [(16, 64, 64), (8, 32, 32)]:
            rates = [
                train_clips_per_second(shape, batch=args.batch, iters=args.iters, warmup=args.warmup,
                                       channels_last=cl, **kw)
                for cl in (False, True)
            ]
            clip = "x".join(map(str, shape))
            print(f"{label:<22}{clip:>10}{rates[0]:>11.1f}/s{rates[1]:>13.1f}/s{rates[1] / rates[0]:>8.2f}")


if __name__ == "__main__":
    main()
