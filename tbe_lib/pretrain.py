"""Self-supervised pretraining: ``tbe pretrain --method {moco,be,be_triplet,pretext}``.

One function, :func:`pretrain`, builds the data, the method and the engine from a
:class:`PretrainConfig` and runs it, on one process or under ``torchrun`` (DDP). Everything
it writes goes to the run directory (see :mod:`tbe_lib.train.rundir`); the final encoder is
``RUN/encoder.pt``, loadable with :func:`tbe_lib.models.load_weights` for finetuning.

Hyper-parameters of the paper (original-code.md §1.6): SGD lr 0.003, momentum 0.9, weight
decay 1e-4, step decay, K = 3569, T = 0.07, m = 0.999, I3D 16 frames stride 4 at 224. Our
defaults are sized for the embedded benchmark on a CPU (r3d_tiny, 8 frames of 32x32, lr 0.03
with cosine decay); every one of them is a parameter.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from .config import OPTIMIZERS, DataConfig, OptimConfig, build_optimizer, flip_for
from .data.listfile import resolve_list
from .methods import METHODS, MethodConfig
from .train import LoopConfig

__all__ = ["PretrainConfig", "PretrainResult", "pretrain", "add_cli"]


@dataclass
class PretrainConfig:
    """The full configuration of a pretraining run (written to ``RUN/config.json``)."""

    run_dir: str = "runs/pretrain"
    backbone: str = "r3d_tiny"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)


@dataclass
class PretrainResult:
    """What :func:`pretrain` returns: the run directory, the trained method module and the
    last logged metrics."""

    run_dir: Path
    method: torch.nn.Module
    metrics: dict[str, float]
    step: int


def _check_meta(cfg: PretrainConfig, encoder_arch: dict[str, Any]) -> dict[str, Any]:
    return {"task": "pretrain", "method": cfg.method.method, "arch": encoder_arch}


def pretrain(cfg: PretrainConfig, *, resume: bool = False) -> PretrainResult:
    """Run pretraining; returns the run directory (with ``encoder.pt``), the method and metrics.

    ``resume=True`` continues from ``RUN/checkpoints/last.pt`` when it exists (refusing a
    checkpoint from another method or architecture)."""
    from . import distributed as D
    from .augment.video import VideoAugment
    from .data.dataset import ClipDataset, ClipSampler, collate_clips
    from .methods import build_method
    from .models import checkpoint_dict
    from .train import RunDir, Trainer, build_scheduler
    from .train.sampler import StepSampler
    from .utils import atomic_save, device_generator, seed_everything

    device = D.init_from_env(cfg.device)
    seed_everything(cfg.loop.seed, deterministic=cfg.loop.deterministic)
    run = RunDir(cfg.run_dir, main=D.is_main())
    ckpt_exists = run.last_checkpoint.exists()
    if ckpt_exists and not resume:
        raise FileExistsError(f"{run.last_checkpoint} exists: pass --resume to continue that run, "
                              "or choose another --run-dir (nothing was overwritten)")

    list_path = resolve_list(cfg.data.source, cfg.data.split)
    dataset = ClipDataset(
        list_path,
        ClipSampler(frames=cfg.data.frames, stride=cfg.data.stride, mode="random", views=cfg.method.views),
        root=cfg.data.root, resize=cfg.data.resize, cache=cfg.data.cache, on_error=cfg.data.on_error,  # type: ignore[arg-type]
    )
    if len(dataset) == 0:
        raise ValueError(f"{list_path} lists no videos; nothing to pretrain on")

    method = build_method(cfg.backbone, cfg.method, **cfg.backbone_kwargs).to(device)
    if cfg.loop.channels_last:
        method = method.to(memory_format=torch.channels_last_3d)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, cfg.optim)
    scheduler = build_scheduler(optimizer, cfg.loop.steps, kind=cfg.optim.schedule,  # type: ignore[arg-type]
                                warmup_steps=cfg.optim.warmup_steps, milestones=cfg.optim.milestones, gamma=cfg.optim.gamma)
    augment = VideoAugment(cfg.data.size, scale=cfg.data.crop_scale, flip=cfg.data.flip, jitter=cfg.data.jitter,
                           jitter_p=cfg.data.jitter_p, gray_p=cfg.data.gray_p)
    # One generator drives augmentation and BE; it is per process and saved in checkpoints.
    gen = device_generator(cfg.loop.seed * 1000 + D.rank(), device)
    encoder = method.encoder  # what finetuning starts from (encoder.pt)
    trainer = Trainer(method, optimizer, scheduler, run, cfg.loop, device=device,
                      meta=_check_meta(cfg, encoder.arch), generators={"augment": gen},
                      desc=f"pretrain {cfg.method.method}")
    if resume and ckpt_exists:
        trainer.resume()
    run.write_json("config.json", cfg)
    run.write_environment(device, D.world_size())

    def batches(start_step: int):
        sampler = StepSampler(len(dataset), cfg.batch_size, seed=cfg.loop.seed, start_step=start_step,
                              rank=D.rank(), world_size=D.world_size())
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.data.workers,
            collate_fn=collate_clips, pin_memory=device.type == "cuda", persistent_workers=cfg.data.workers > 0,
            prefetch_factor=4 if cfg.data.workers > 0 else None,
            # Its own generator: creating the iterator must not consume the global RNG (resume).
            generator=torch.Generator().manual_seed(cfg.loop.seed + start_step),
        )
        return iter(loader)

    mf = torch.channels_last_3d if cfg.loop.channels_last else torch.contiguous_format

    def step_fn(model, batch, step):
        clips = batch.clips.to(device, non_blocking=True)  # (B, V, C, T, H, W) uint8, padded if sizes differ
        sizes = batch.sizes  # (B, V, 2) valid (H, W) of each clip, on the CPU
        if clips.dim() == 5:
            clips, sizes = clips.unsqueeze(1), None if sizes is None else sizes.unsqueeze(1)
        with torch.autocast(device.type, enabled=False):
            x = augment(clips, generator=gen, sizes=sizes)  # (B, V, C, T, h, w) float32, normalised
        views = [x[:, v].contiguous(memory_format=mf) for v in range(x.shape[1])]
        loss, metrics = model(views, gen)
        return loss, metrics, clips.shape[0]

    last = trainer.fit(batches, step_fn, after_step=lambda m: m.after_step())
    if run.main and trainer.step >= cfg.loop.steps:
        atomic_save(checkpoint_dict(encoder, task="pretrain", method=cfg.method.method, step=trainer.step),
                    run.path / "encoder.pt")
    D.barrier()
    return PretrainResult(run.path, method, last, trainer.step)


# ------------------------------------------------------------------------------------ CLI

def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pretrain", help="self-supervised pretraining (moco, be, be_triplet, pretext)",
                              description="Self-supervised pretraining. Works the same under "
                                          "'torchrun --nproc_per_node N -m tbe_lib.cli pretrain ...'.")
    p.add_argument("--method", default="be", choices=list(METHODS), help="a registered method (tbe_lib/methods/)")
    p.add_argument("--backbone", default="r3d_tiny")
    p.add_argument("--data", default="data/synth", help="list file, or a folder from 'tbe data synth' (default data/synth)")
    p.add_argument("--split", default="pretrain", help="split of a benchmark folder (default pretrain)")
    p.add_argument("--root", default=None, help="root of the list's relative paths")
    p.add_argument("--run-dir", default=None, help="run directory (default runs/pretrain_<method>)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--stop-after", type=int, default=None, help="stop (checkpointed) at this step; resume later")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS, help="sgd (the paper's) or adamw")
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "step", "constant"])
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--clip-grad", type=float, default=None)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--size", type=int, default=32, help="crop size (default 32)")
    p.add_argument("--resize", type=int, default=None, help="short side after decoding")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--flip", default="auto", choices=["auto", "on", "off"],
                   help="horizontal flips (auto: off on the embedded benchmark, whose classes are directions)")
    p.add_argument("--no-cache", action="store_true", help="do not keep decoded videos in RAM")
    p.add_argument("--queue-size", type=int, default=1024)
    p.add_argument("--temperature", type=float, default=0.07)
    p.add_argument("--momentum-ema", type=float, default=0.999, help="key encoder EMA m (default 0.999)")
    p.add_argument("--bn-groups", type=int, default=2, help="shuffling-BN groups over all processes (1: off)")
    p.add_argument("--extra-negative", action="store_true", help="the paper's extra negative logit")
    p.add_argument("--be-alpha", type=float, default=0.3)
    p.add_argument("--be-source", default="intra", choices=["intra", "inter"])
    p.add_argument("--be-lam-per-clip", action="store_true")
    p.add_argument("--pretext-task", default="rotation", choices=["rotation", "flip", "rotation+flip"])
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--progress", default="auto", choices=["auto", "bar", "log", "off"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic kernels where torch has them (slower on GPUs; set CUBLAS_WORKSPACE_CONFIG=:4096:8)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cli_pretrain)


def config_from_args(a: argparse.Namespace) -> PretrainConfig:
    from .methods import MethodConfig
    from .train import LoopConfig

    return PretrainConfig(
        run_dir=a.run_dir or f"runs/pretrain_{a.method}", backbone=a.backbone, batch_size=a.batch_size, device=a.device,
        data=DataConfig(source=a.data, split=a.split, root=a.root, frames=a.frames, stride=a.stride, size=a.size,
                        resize=a.resize, workers=a.workers, cache=not a.no_cache, flip=flip_for(a.data, a.flip)),
        method=MethodConfig(method=a.method, queue_size=a.queue_size, temperature=a.temperature, momentum=a.momentum_ema,
                            bn_groups=a.bn_groups, extra_negative=a.extra_negative, be_alpha=a.be_alpha,
                            be_source=a.be_source, be_lam_per_clip=a.be_lam_per_clip, pretext_task=a.pretext_task),
        optim=OptimConfig(lr=a.lr, weight_decay=a.weight_decay, schedule=a.schedule, warmup_steps=a.warmup_steps,
                          name=a.optimizer),
        loop=LoopConfig(steps=a.steps, log_every=a.log_every, checkpoint_every=a.checkpoint_every, clip_grad=a.clip_grad,
                        stop_after=a.stop_after, amp=a.amp, channels_last=not a.no_channels_last, compile=a.compile, progress=a.progress,
                        seed=a.seed, deterministic=a.deterministic),
    )


def _cli_pretrain(a: argparse.Namespace) -> int:
    res = pretrain(config_from_args(a), resume=a.resume)
    if (res.run_dir / "encoder.pt").exists():
        print(f"[pretrain] done: {res.run_dir / 'encoder.pt'}")
    else:
        print(f"[pretrain] stopped at step {res.step}; continue with --resume --run-dir {res.run_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:  # python -m tbe_lib.pretrain
    p = argparse.ArgumentParser(prog="tbe")
    add_cli(p.add_subparsers(dest="command"))
    a = p.parse_args(["pretrain", *(argv or [])])
    return a.func(a)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(__import__("sys").argv[1:]))
