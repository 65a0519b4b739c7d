"""The set-up every training stage shares: device and processes, seeds, the run directory,
the data stream, the optimiser and its schedule, the engine, and the augmented batch.

:func:`pretrain <tbe_lib.pretrain.pretrain>` and :func:`finetune <tbe_lib.finetune.finetune>`
are thin stages on top of this module: each builds its model and its step, and this module
does the rest, in the same order for both::

    with start_run(run_dir=..., device=..., loop=..., resume=...) as ctx:   # processes, seeds, RUN/ (locked)
        dataset = training_dataset(data_cfg, list_path, sampler)             # clips of a list
        trainer = build_trainer(ctx, module, optim=..., loop=..., ...)        # optimiser, schedule, engine, resume
        trainer.fit(ctx.batches(dataset, batch_size, data_cfg), step_fn)     # the data stream
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from .. import distributed as D
from ..config import DataConfig, OptimConfig, build_optimizer
from ..utils import device_generator, seed_everything
from .engine import LoopConfig, Trainer
from .rundir import RunDir
from .sampler import StepSampler
from .schedule import build_scheduler

__all__ = ["RunContext", "start_run", "training_dataset", "training_augment", "build_trainer"]


@dataclass
class RunContext:
    """What a training stage runs with: ``device``, ``run`` (its directory; only the main
    process writes), ``generator`` (augmentation and the method's random draws, on the device,
    saved in checkpoints) and the ``memory_format`` of model and inputs."""

    device: torch.device
    run: RunDir
    generator: torch.Generator
    memory_format: torch.memory_format
    seed: int
    bad_files: Any = field(default=None)  # the data stream's BadFileLog (set by batches())

    def batches(self, dataset: Any, batch_size: int, data: DataConfig) -> Callable[[int], Iterator[Any]]:
        """``batches(start_step)``: the endless, step-indexed stream of batches of
        :class:`~tbe_lib.train.sampler.StepSampler` through the one loader of every stage
        (:func:`~tbe_lib.data.dataset.build_loader`). Items replaced because of bad files are
        counted in :attr:`bad_files`; every epoch's count is logged to ``metrics.jsonl``."""
        from ..data.dataset import BadFileLog, build_loader

        log = BadFileLog(len(dataset), data.skip_limit, where=str(getattr(dataset.videos, "source", "") or "data"))
        self.bad_files = log
        steps_per_epoch = StepSampler(len(dataset), batch_size, world_size=D.world_size()).steps_per_epoch

        def stream(start_step: int) -> Iterator[Any]:
            sampler = StepSampler(
                len(dataset),
                batch_size,
                seed=self.seed,
                start_step=start_step,
                rank=D.rank(),
                world_size=D.world_size(),
            )
            loader = build_loader(
                dataset,
                batch_size,
                sampler=sampler,
                workers=data.workers,
                seed=self.seed + start_step,
                prefetch_factor=4,
                bad_files=log,
                pin_memory=self.device.type == "cuda",
            )
            for step, batch in enumerate(loader, start=start_step + 1):  # this batch makes step `step`
                yield batch
                if step % steps_per_epoch == 0 and (record := log.end_epoch(step // steps_per_epoch)) is not None:
                    self.run.log({"step": step, **{k: v for k, v in record.items() if k != "skipped"}})

        return stream

    def __enter__(self) -> "RunContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.run.release()  # the run directory's lock: another run may use it now

    def augment(self, augment: nn.Module, batch: Any) -> Tensor:
        """The batch's clips on the device, augmented: uint8 ``(B, [V,] C, T, H, W)`` (padded
        when sizes differ; ``batch.sizes`` holds each clip's own) -> float32 normalised
        ``(B, [V,] C, T, h, w)``, in full precision whatever the autocast around it."""
        clips = batch.clips.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, enabled=False):
            return augment(clips, generator=self.generator, sizes=batch.sizes)


def start_run(*, run_dir: str | os.PathLike, device: str, loop: LoopConfig, resume: bool) -> RunContext:
    """Processes (``torchrun``: one per GPU, NCCL; gloo on CPUs), seeds (and deterministic
    kernels if asked), the run directory (locked for this run until the context exits;
    refusing to overwrite a run unless ``resume``)."""
    dev = D.init_from_env(device)
    seed_everything(loop.seed, deterministic=loop.deterministic)
    run = RunDir(run_dir, main=D.is_main())
    if run.last_checkpoint.exists() and not resume:
        run.release()
        raise FileExistsError(
            f"{run.last_checkpoint} exists: pass --resume to continue that run, "
            "or choose another --run-dir (nothing was overwritten)"
        )
    mf = torch.channels_last_3d if loop.channels_last else torch.contiguous_format
    # One generator drives augmentation and the method's draws (BE); per process, in checkpoints.
    gen = device_generator(loop.seed * 1000 + D.rank(), dev)
    return RunContext(dev, run, gen, mf, loop.seed)


def training_dataset(data: DataConfig, list_path: str | os.PathLike, sampler: Any) -> Any:
    """The :class:`~tbe_lib.data.dataset.ClipDataset` of a training list (``ValueError`` if empty)."""
    from ..data.dataset import ClipDataset

    dataset = ClipDataset(
        list_path, sampler, root=data.root, resize=data.resize, cache=data.cache, on_error=data.on_error
    )  # type: ignore[arg-type]
    if len(dataset) == 0:
        raise ValueError(f"{list_path} lists no videos; nothing to train on")
    return dataset


def training_augment(data: DataConfig) -> nn.Module:
    """The batch augmentation of ``data`` (random resized crop to ``size``, flips, colour jitter,
    grayscale, normalisation; :class:`~tbe_lib.augment.video.VideoAugment`)."""
    from ..augment.video import VideoAugment

    return VideoAugment(
        data.size, scale=data.crop_scale, flip=data.flip, jitter=data.jitter, jitter_p=data.jitter_p, gray_p=data.gray_p
    )


def build_trainer(
    ctx: RunContext,
    module: nn.Module,
    *,
    optim: OptimConfig,
    loop: LoopConfig,
    meta: dict[str, Any],
    desc: str,
    resume: bool,
    config: Any,
    warmup_steps: int | None = None,
    milestones: Sequence[int] | None = None,
) -> Trainer:
    """The optimiser over ``module``'s trainable parameters, its schedule over ``loop.steps``
    (``warmup_steps``/``milestones`` in steps, default ``optim``'s), the engine; resumes from
    ``RUN/checkpoints/last.pt`` when asked and present; writes ``config.json`` (``config``)
    and ``environment.json``. ``module`` must already be on ``ctx.device``."""
    optimizer = build_optimizer([p for p in module.parameters() if p.requires_grad], optim)
    scheduler = build_scheduler(
        optimizer,
        loop.steps,
        kind=optim.schedule,  # type: ignore[arg-type]
        warmup_steps=optim.warmup_steps if warmup_steps is None else warmup_steps,
        milestones=optim.milestones if milestones is None else milestones,
        gamma=optim.gamma,
    )
    trainer = Trainer(
        module,
        optimizer,
        scheduler,
        ctx.run,
        loop,
        device=ctx.device,
        meta=meta,
        generators={"augment": ctx.generator},
        desc=desc,
    )
    if resume and ctx.run.last_checkpoint.exists():
        trainer.resume()
    ctx.run.write_json("config.json", config)
    ctx.run.write_environment(ctx.device, D.world_size())
    return trainer
