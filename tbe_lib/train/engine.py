"""One training engine for pretraining and finetuning.

The engine owns what every run needs and nothing method-specific: the optimiser step with
AMP and gradient clipping, DDP wrapping, the LR schedule, checkpoints every N steps and at
the end (atomic), bit-for-bit resume (on CPU), a stop on NaN/inf loss that leaves the last
good checkpoint intact, a progress bar (or plain log lines), and ``metrics.jsonl``.

A task plugs in with two callables:

* ``step_fn(module, batch, step) -> (loss, metrics: dict[str, float], n_clips: int)``
* ``after_step(module_unwrapped)`` (optional): e.g. MoCo's momentum update and enqueue.

Data come from ``batches(start_step)``: an iterator of batches starting at ``start_step``
(so a resumed run sees exactly the batches it would have seen).
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Literal

import torch
from torch import Tensor, nn

from .. import distributed as D
from ..utils import atomic_save, safe_load
from .rundir import RunDir
from .state import capture_rng, check_compatible, restore_rng

__all__ = ["LoopConfig", "Trainer", "TrainingDiverged", "autocast_dtype"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class LoopConfig:
    """Engine settings shared by every stage.

    Args:
        steps: optimiser steps in total.
        amp: ``"auto"`` (bf16 on CUDA if supported, else fp16; off on CPU), ``"bf16"``,
            ``"fp16"`` or ``"off"``. CPU always runs float32.
        channels_last: use ``torch.channels_last_3d`` for model and inputs.
        compile: ``torch.compile`` the module (no gain measured on 2-core CPUs; an option).
        checkpoint_every: steps between checkpoints (0: only at the end).
        progress: ``"auto"`` (a bar in a terminal, plain lines under papermill/CI/no TTY),
            ``"bar"``, ``"log"`` or ``"off"``.
    """

    steps: int = 1000
    log_every: int = 10
    checkpoint_every: int = 500
    clip_grad: float | None = None
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    channels_last: bool = True
    compile: bool = False
    progress: Literal["auto", "bar", "log", "off"] = "auto"
    seed: int = 0
    deterministic: bool = False
    stop_after: int | None = None  # stop (with a checkpoint) at this step, e.g. a time budget or a test of resume


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full precision)."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def _progress_mode(mode: str) -> str:
    if mode != "auto":
        return mode
    if os.environ.get("PAPERMILL_EXECUTION") or os.environ.get("TBE_PROGRESS") == "log" or os.environ.get("CI"):
        return "log"
    import sys

    return "bar" if sys.stderr.isatty() else "log"


class Trainer:
    """Runs ``steps`` optimiser steps of ``module`` (see the module docstring)."""

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        run: RunDir,
        cfg: LoopConfig,
        *,
        device: torch.device,
        meta: dict[str, Any],
        generators: dict[str, torch.Generator] | None = None,
        desc: str = "train",
    ) -> None:
        self.cfg, self.run, self.device, self.meta, self.desc = cfg, run, device, meta, desc
        self.module = module
        self.optimizer, self.scheduler = optimizer, scheduler
        self.generators = generators or {}
        self.amp_dtype = autocast_dtype(cfg.amp, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.model = module  # what forward is called on: DDP and/or compiled wrapper
        if D.world_size() > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)
        if cfg.compile:
            self.model = torch.compile(self.model)

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "step": self.step,
            "state_dict": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_name": type(self.optimizer).__name__,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "rng": capture_rng(self.generators),
        }

    def save(self) -> None:
        if self.run.main:
            atomic_save(self.state(), self.run.last_checkpoint)
        D.barrier()

    def resume(self, path: str | os.PathLike | None = None) -> int:
        """Load the training state (default: the run's ``checkpoints/last.pt``). Returns the step."""
        path = self.run.last_checkpoint if path is None else path
        ckpt = safe_load(path, map_location=self.device)
        check_compatible(ckpt, self.meta, str(path))
        saved_opt, opt = ckpt.get("optimizer_name"), type(self.optimizer).__name__
        if saved_opt is not None and saved_opt != opt:
            raise ValueError(f"{path} was written by a run using {saved_opt}, but this run is configured for {opt}: "
                             "resume with the same optimizer (--optimizer), or start a new run directory")
        self.module.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        restore_rng(ckpt["rng"], self.generators)
        self.step = int(ckpt["step"])
        self.run.truncate_metrics(self.step)
        return self.step

    # ---------------------------------------------------------------- the loop
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def fit(
        self,
        batches: Callable[[int], Iterable[Any]],
        step_fn: Callable[[nn.Module, Any, int], tuple[Tensor, dict[str, float], int]],
        after_step: Callable[[nn.Module], None] | None = None,
        callback: Callable[[int], None] | None = None,
    ) -> dict[str, float]:
        """Train from ``self.step`` to ``cfg.steps``; returns the last logged metrics.

        ``callback(step)`` runs after every step (e.g. epoch-end evaluation)."""
        cfg = self.cfg
        mode = _progress_mode(cfg.progress) if self.run.main else "off"
        bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=self.desc, dynamic_ncols=True)
        it: Iterator[Any] = iter(batches(self.step))
        self.module.train()
        last: dict[str, float] = {}
        window_clips, window_t0 = 0, time.perf_counter()
        run_t0 = time.perf_counter()
        start_step = self.step
        sums: dict[str, float] = {}
        count = 0
        end = cfg.steps if cfg.stop_after is None else min(cfg.steps, cfg.stop_after)
        while self.step < end:
            try:
                batch = next(it)
            except StopIteration:
                raise RuntimeError(f"the data ran out at step {self.step} of {cfg.steps}; the batch iterator must be "
                                   "endless (it is re-created from the step on resume)") from None
            with self._autocast():
                loss, metrics, n_clips = step_fn(self.model, batch, self.step)
            bad = (~torch.isfinite(loss.detach())).any().float()
            if float(D.all_reduce_mean(bad)) > 0:  # every rank stops together (no hang in a collective)
                where = self.run.last_checkpoint if self.run.last_checkpoint.exists() else "none written yet"
                raise TrainingDiverged(
                    f"{self.desc}: loss is {float(loss.detach())} at step {self.step + 1}; stopped without writing a checkpoint "
                    f"(last good checkpoint: {where}). Lower the learning rate, enable --clip-grad or use --amp off, "
                    "then resume or restart."
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.clip_grad:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.module.parameters(), cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.scheduler is not None:
                self.scheduler.step()
            if after_step is not None:
                after_step(self.module)
            self.step += 1
            window_clips += n_clips * D.world_size()
            sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            count += 1
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                dt = time.perf_counter() - window_t0
                last = {k: v / count for k, v in sums.items()}
                last = {k: float(D.all_reduce_mean(torch.tensor(v)).item()) for k, v in last.items()}
                rec = {"step": self.step, **last, "lr": self.optimizer.param_groups[0]["lr"],
                       "clips_per_s": window_clips / max(dt, 1e-9), "time": time.perf_counter() - run_t0}
                self.run.log(rec)
                if bar is not None:
                    bar.set_postfix({k: f"{rec[k]:.3g}" for k in ("loss", "p_pos", "clips_per_s") if k in rec})
                elif mode == "log":
                    done = self.step - start_step
                    eta = (time.perf_counter() - run_t0) / max(done, 1) * (cfg.steps - self.step)
                    print(f"[{self.desc}] step {self.step}/{cfg.steps} loss {rec['loss']:.4f}"
                          + (f" p_pos {rec['p_pos']:.3f}" if "p_pos" in rec else "")
                          + f" {rec['clips_per_s']:.1f} clips/s eta {eta:.0f}s", flush=True)
                sums, count, window_clips, window_t0 = {}, 0, 0, time.perf_counter()
            if bar is not None:
                bar.update(1)
            if callback is not None:
                callback(self.step)
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps:
                self.save()
        if bar is not None:
            bar.close()
        self.save()
        self.check_replicas()
        return last

    @torch.no_grad()
    def check_replicas(self) -> float:
        """Under DDP: the largest difference between any process's parameters and rank 0's
        (written to ``RUN/replicas.json``); raises if they diverged. 0.0 in one process."""
        if D.world_size() == 1:
            return 0.0
        flat = torch.cat([p.detach().float().reshape(-1) for p in self.module.parameters()])
        ref = D.broadcast(flat.clone(), 0)
        diff = D.all_reduce_mean((flat - ref).abs().max().reshape(1)) * D.world_size()  # sum of per-rank maxima
        value = float(diff)
        self.run.write_json("replicas.json", {"world_size": D.world_size(), "max_abs_diff_sum": value, "step": self.step})
        if value > 0:
            raise RuntimeError(f"DDP replicas diverged: parameters differ from rank 0 by up to {value:g}")
        return value

