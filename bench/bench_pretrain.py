"""Benchmark: the cost of a full pretraining step against the bare forward+backward.

    .venv/bin/python bench/bench_pretrain.py [--backbone r3d_tiny] [--batch 32 --frames 8 --size 32]
                                             [--device cpu|cuda] [--amp bf16] [--methods moco be]

Data are already on the device and augmented, so this measures the method, not the loader
or the augmentation (whose cost per view is printed separately). For each method, one run,
same batch, medians over ``--repeats`` steps after warm-up:

* ``bare``: forward + backward + SGD step of the query encoder on the anchor (the
  unavoidable part of any method);
* ``<method>``: the full training step of that method (BE, query + key encoders with
  shuffled BN, queue, InfoNCE, backward, SGD step, momentum update, enqueue);
  ``<method>/bn1``: the same with shuffling BN off (one key forward instead of two halves).

``--profile be`` prints torch.profiler's top operators of that variant's step.

Target (issue "Self-supervised pretraining"): on CPU with r3d_tiny, the ``be`` step costs at
most 1.6x the bare forward+backward of the query encoder.
"""

from __future__ import annotations

import argparse
import json
import platform

import torch

from tbe_lib.augment.video import VideoAugment
from tbe_lib.methods import MethodConfig, build_method
from tbe_lib.train.engine import autocast_dtype
from tbe_lib.utils import device_generator, device_sync, median_ms


def _profile(step, device: torch.device, rows: int = 20) -> None:
    """Three steps under torch.profiler: where the time of a step goes (device time first)."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        for _ in range(3):
            step()
        device_sync(device)()
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="r3d_tiny")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--methods", nargs="+", default=["moco", "be"])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--profile", default=None, help="print torch.profiler's top operators for this variant's step")
    ap.add_argument("--json")
    args = ap.parse_args()

    device = torch.device(args.device)
    amp = autocast_dtype(args.amp, device)
    mf = torch.channels_last_3d if args.channels_last else torch.contiguous_format
    B, T, S = args.batch, args.frames, args.size
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (B, 3, 3, T, S, S), dtype=torch.uint8, generator=g).to(device)  # (B, V, C, T, H, W)
    g = device_generator(0, device)  # augmentation and BE draw on the data's device, as tbe pretrain does
    augment = VideoAugment(S, scale=(0.3, 1.0))

    def autocast():
        return torch.autocast(device.type, dtype=amp) if amp is not None else torch.autocast(device.type, enabled=False)

    results: dict[str, float] = {}
    aug_ms = median_ms(lambda: augment(raw[:, 0], generator=g), args.repeats, sync=device_sync(device))
    for name in ["bare", *args.methods]:
        torch.manual_seed(0)
        # "be/bn1": the same method with shuffling BN off (one key forward instead of one per group)
        method_name, _, variant = name.partition("/")
        cfg = MethodConfig(
            method=method_name if name != "bare" else "moco", queue_size=4096, bn_groups=1 if variant == "bn1" else 2
        )
        method = build_method(args.backbone, cfg).to(device).to(memory_format=mf)
        opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
        if name == "bare":
            encoder = method.moco.encoder_q if hasattr(method, "moco") else method.encoder

            x0 = augment(raw[:, 0], generator=g).contiguous(memory_format=mf)

            def step():
                x = x0
                with autocast():
                    loss = encoder(x).float().pow(2).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        else:
            views_needed = len(cfg.views)
            xv = augment(raw[:, :views_needed], generator=g)
            views = [xv[:, v].contiguous(memory_format=mf) for v in range(views_needed)]

            def step():
                with autocast():
                    loss, _ = method(views, g)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                method.after_step()

        results[name] = median_ms(step, args.repeats, sync=device_sync(device))
        if args.profile and name == args.profile:
            _profile(step, device)

    dev = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(
        f"pretraining step, {args.backbone}, batch {B} x {T}x{S}x{S}, {device.type} ({dev}), amp={amp}, "
        f"channels_last={args.channels_last}; median of {args.repeats}"
    )
    print(f"  {'augment':12s} {aug_ms:9.1f} ms/view (batch augmentation, not part of the ratios)")
    for name, ms in results.items():
        print(
            f"  {name:12s} {ms:9.1f} ms/step  {B / ms * 1e3:8.1f} clips/s"
            + ("" if name == "bare" else f"  {ms / results['bare']:5.2f}x bare")
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": dev,
                    "backbone": args.backbone,
                    "batch": B,
                    "frames": T,
                    "size": S,
                    "amp": str(amp),
                    "median_ms": results,
                    "augment_ms_per_view": aug_ms,
                    "ratio_to_bare": {k: v / results["bare"] for k, v in results.items()},
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
