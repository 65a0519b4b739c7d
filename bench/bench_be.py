"""Benchmark: Background Erasing against the paper's Python loop and against ``x.clone()``.

    .venv/bin/python bench/bench_be.py [--device cpu|cuda] [--batch 16 --frames 16 --size 112] [--json out.json]

All variants run on the same input in one process; each is timed ``--repeats`` times
(after warm-up) and the median is reported, with ratios to the floors:

* ``clone``: ``x.clone()``, the floor for any out-of-place operation on that tensor
  (allocation + one read + one write).
* ``lerp_``: one in-place ``x.lerp_(static, λ)`` over the tensor, the floor for in-place BE.
* ``loop``: what the paper's code does (``SpatialMixup`` v2): a fresh zero tensor, then a
  Python loop over clips and frames writing ``(1-λ)·x[i,:,j] + λ·x[i,:,k_i]``.

Targets (issue "Foundation"): on CPU, out-of-place BE <= 1.5x clone and faster than the loop;
in-place BE <= 1.5x one lerp_; on a GPU, >= 50x faster than the loop.
"""

from __future__ import annotations

import argparse
import json
import platform
from typing import Callable

import torch

from tbe_lib.augment import background_erasing
from tbe_lib.utils import device_generator, device_sync, median_ms


def paper_loop(x: torch.Tensor, lam: float, index: torch.Tensor) -> torch.Tensor:
    """The original per-clip, per-frame loop (one λ per batch, intra-video frame)."""
    out = torch.zeros_like(x)
    B, _, T = x.shape[:3]
    idx = index.tolist()
    for i in range(B):
        for j in range(T):
            out[i, :, j] = (1 - lam) * x[i, :, j] + lam * x[i, :, idx[i]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()

    device = torch.device(args.device)
    B, T, S = args.batch, args.frames, args.size
    x = torch.rand(B, 3, T, S, S, device=device)
    g = torch.Generator(device="cpu").manual_seed(0)
    index = torch.randint(T, (B,), generator=g).to(device)
    lam = 0.2
    lam_clip = torch.rand(B, generator=g).mul(0.3).to(device)
    static = x[torch.arange(B, device=device), :, index].unsqueeze(2).clone()
    g = device_generator(0, device)  # BE's draws on the data's device (no host copy or sync), as in training
    y = x.clone()  # target of the in-place variants

    # The vectorised BE must agree with the loop before we time it.
    torch.testing.assert_close(background_erasing(x, lam=lam, index=index), paper_loop(x, lam, index))

    cases: dict[str, Callable[[], object]] = {
        "clone (floor, out-of-place)": lambda: x.clone(),
        "lerp_ (floor, in-place)": lambda: y.lerp_(static, lam),
        "BE out-of-place, λ per batch": lambda: background_erasing(x, generator=g),
        "BE out-of-place, λ per clip": lambda: background_erasing(x, generator=g, lam_per_clip=True),
        "BE out-of-place, given λ/k": lambda: background_erasing(x, lam=lam_clip, index=index),
        "BE in-place, λ per batch": lambda: background_erasing(y, generator=g, inplace=True),
        "paper loop": lambda: paper_loop(x, lam, index),
    }
    repeats = {"paper loop": max(5, args.repeats // 3)}
    ms = {name: median_ms(fn, repeats.get(name, args.repeats), sync=device_sync(device)) for name, fn in cases.items()}

    dev_name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(
        f"Background Erasing, B={B} C=3 T={T} {S}x{S} float32 on {device.type} ({dev_name}); torch {torch.__version__}"
    )
    print(f"median of {args.repeats} runs (paper loop: {repeats['paper loop']})")
    for name, t in ms.items():
        print(f"  {name:32s} {t:9.3f} ms")
    be, be_in = ms["BE out-of-place, λ per batch"], ms["BE in-place, λ per batch"]
    ratios = {
        "BE / clone": be / ms["clone (floor, out-of-place)"],
        "BE per-clip λ / clone": ms["BE out-of-place, λ per clip"] / ms["clone (floor, out-of-place)"],
        "BE in-place / lerp_": be_in / ms["lerp_ (floor, in-place)"],
        "loop / BE (speed-up)": ms["paper loop"] / be,
    }
    for name, r in ratios.items():
        print(f"  {name:32s} {r:9.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": dev_name,
                    "shape": [B, 3, T, S, S],
                    "median_ms": ms,
                    "ratios": ratios,
                    "torch": torch.__version__,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
