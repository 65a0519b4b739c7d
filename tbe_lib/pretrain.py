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

from .config import (
    DataConfig,
    OptimConfig,
    add_data_flags,
    add_device_flags,
    add_optim_flags,
    check_number,
    data_from_args,
    optim_from_args,
    same_names,
)
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

    def __post_init__(self) -> None:
        check_number("pretrain", "batch_size", self.batch_size, minimum=1, integer=True)


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
    checkpoint from another method or architecture). The set-up is the one every training
    stage shares (:mod:`tbe_lib.train.setup`); what is pretraining's own is the method."""
    from . import distributed as D
    from .data.dataset import ClipSampler
    from .methods import build_method
    from .models import checkpoint_dict
    from .train.setup import build_trainer, start_run, training_augment, training_dataset
    from .utils import atomic_save

    with start_run(run_dir=cfg.run_dir, device=cfg.device, loop=cfg.loop, resume=resume) as ctx:
        sampler = ClipSampler(frames=cfg.data.frames, stride=cfg.data.stride, mode="random", views=cfg.method.views)
        dataset = training_dataset(cfg.data, resolve_list(cfg.data.source, cfg.data.split), sampler)
        method = build_method(cfg.backbone, cfg.method, **cfg.backbone_kwargs).to(
            ctx.device, memory_format=ctx.memory_format
        )
        encoder = method.encoder  # what finetuning starts from (encoder.pt)
        trainer = build_trainer(
            ctx,
            method,
            optim=cfg.optim,
            loop=cfg.loop,
            meta=_check_meta(cfg, encoder.arch),
            desc=f"pretrain {cfg.method.method}",
            resume=resume,
            config=cfg,
        )
        augment = training_augment(cfg.data)

        def step_fn(model, batch, step):
            x = ctx.augment(augment, batch)  # (B, V, C, T, h, w) float32, normalised (V views of each video)
            if x.dim() == 5:  # one view
                x = x.unsqueeze(1)
            views = [x[:, v].contiguous(memory_format=ctx.memory_format) for v in range(x.shape[1])]
            loss, metrics = model(views, ctx.generator)
            return loss, metrics, x.shape[0]

        last = trainer.fit(ctx.batches(dataset, cfg.batch_size, cfg.data), step_fn, after_step=lambda m: m.after_step())
        if ctx.run.main and trainer.step >= cfg.loop.steps:
            atomic_save(
                checkpoint_dict(encoder, task="pretrain", method=cfg.method.method, step=trainer.step),
                ctx.run.path / "encoder.pt",
            )
        D.barrier()
        return PretrainResult(ctx.run.path, method, last, trainer.step)


# ------------------------------------------------------------------------------------ CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="self-supervised pretraining (moco, be, be_triplet, pretext)",
        description="Self-supervised pretraining. Works the same under "
        "'torchrun --nproc_per_node N -m tbe_lib.cli pretrain ...'.",
    )
    p.add_argument("--method", default="be", choices=list(METHODS), help="a registered method (tbe_lib/methods/)")
    p.add_argument("--backbone", default="r3d_tiny")
    add_data_flags(p)
    p.add_argument("--split", default="pretrain", help="split of a benchmark folder (default pretrain)")
    p.add_argument("--no-cache", action="store_true", help="do not keep decoded videos in RAM")
    p.add_argument("--run-dir", default=None, help="run directory (default runs/pretrain_<method>)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--stop-after", type=int, default=None, help="stop (checkpointed) at this step; resume later")
    p.add_argument("--batch-size", type=int, default=32)
    add_optim_flags(p, OptimConfig())
    p.add_argument("--clip-grad", type=float, default=None)
    m = MethodConfig()
    p.add_argument("--queue-size", type=int, default=m.queue_size)
    p.add_argument("--temperature", type=float, default=m.temperature)
    p.add_argument("--momentum-ema", type=float, default=m.momentum, help=f"key encoder EMA m (default {m.momentum})")
    p.add_argument("--bn-groups", type=int, default=m.bn_groups, help="shuffling-BN groups over all processes (1: off)")
    p.add_argument("--extra-negative", action="store_true", help="the paper's extra negative logit")
    p.add_argument("--be-alpha", type=float, default=m.be_alpha)
    p.add_argument("--be-source", default=m.be_source, choices=["intra", "inter"])
    p.add_argument("--be-lam-per-clip", action="store_true")
    p.add_argument("--pretext-task", default=m.pretext_task, choices=["rotation", "flip", "rotation+flip"])
    add_device_flags(p)
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic kernels where torch has them (slower on GPUs; set CUBLAS_WORKSPACE_CONFIG=:4096:8)",
    )
    p.set_defaults(func=_cli_pretrain)


#: Flags copied as they are into MethodConfig and LoopConfig fields of the same name.
_METHOD_FLAGS = "method queue_size temperature bn_groups extra_negative be_alpha be_source be_lam_per_clip pretext_task"
_LOOP_FLAGS = (
    "steps log_every checkpoint_every clip_grad stop_after amp compile progress tensorboard seed deterministic"
)


def config_from_args(a: argparse.Namespace) -> PretrainConfig:
    return PretrainConfig(
        run_dir=a.run_dir or f"runs/pretrain_{a.method}",
        backbone=a.backbone,
        batch_size=a.batch_size,
        device=a.device,
        data=data_from_args(a, a.split, cache=not a.no_cache),
        method=MethodConfig(momentum=a.momentum_ema, **same_names(a, _METHOD_FLAGS)),
        optim=optim_from_args(a),
        loop=LoopConfig(channels_last=not a.no_channels_last, **same_names(a, _LOOP_FLAGS)),
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
