"""One training engine for pretraining and finetuning.

The engine owns what every run needs and nothing method-specific: the optimiser step with
AMP and gradient clipping, DDP wrapping, ``torch.compile`` (falling back to eager with one
warning if the compiler fails), the LR schedule, checkpoints every N steps and at the end
(atomic), bit-for-bit resume, a stop on NaN/inf loss that leaves the last good checkpoint
intact, progress shown as fits where it runs (:mod:`.progress`: a widget bar in Jupyter, a bar in
a terminal, plain log lines elsewhere), ``metrics.jsonl`` with ``train.log`` beside it, and
TensorBoard scalars in ``RUN/tb/`` (:mod:`.tb`).

A task plugs in with two callables:

* ``step_fn(module, batch, step) -> (loss, metrics: dict[str, Tensor | float], n_clips: int)``
* ``after_step(module_unwrapped)`` (optional): e.g. MoCo's momentum update and enqueue.

Data come from ``batches(start_step)``: an iterator of batches starting at ``start_step``
(so a resumed run sees exactly the batches it would have seen).

No host-device synchronisation per step: the loss's finiteness and the metrics are
accumulated on the device (metrics may be 0-dim tensors) and read once per ``log_every``
steps and before every checkpoint; a non-finite loss is reported with the step where it
first appeared, and no checkpoint is written after it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Literal

import torch
from torch import Tensor, nn

from .. import distributed as D
from ..config import check_number
from ..utils import atomic_save, safe_load
from .progress import SETTINGS, Progress, progress_mode
from .rundir import RunDir
from .state import capture_rng, check_compatible, restore_rng
from .tb import TB_FOLDER, ScalarLog

__all__ = [
    "LoopConfig",
    "Trainer",
    "TrainingDiverged",
    "CompileFallbackWarning",
    "autocast_dtype",
    "is_compiler_error",
    "first_nonfinite",
]


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
        log_every: steps between logged records (``metrics.jsonl``, ``train.log``, TensorBoard).
        progress: ``"auto"`` (a widget bar in Jupyter, a bar in a terminal, plain lines under
            papermill/CI/no TTY; ``$TBE_PROGRESS`` overrides it), ``"bar"``, ``"plain"`` (or
            ``"log"``) or ``"off"``; see :mod:`tbe_lib.train.progress`.
        tensorboard: write the logged scalars to ``RUN/tb/`` too (when the ``tensorboard``
            package is installed; silently skipped otherwise).
    """

    steps: int = 1000
    log_every: int = 10
    checkpoint_every: int = 500
    clip_grad: float | None = None
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"
    channels_last: bool = True
    compile: bool = False
    progress: Literal["auto", "bar", "plain", "log", "off"] = "auto"
    tensorboard: bool = True
    seed: int = 0
    deterministic: bool = False
    stop_after: int | None = None  # stop (with a checkpoint) at this step, e.g. a time budget or a test of resume

    def __post_init__(self) -> None:
        check_number("loop", "steps", self.steps, minimum=1, integer=True)
        check_number("loop", "log_every", self.log_every, minimum=1, integer=True)
        check_number("loop", "checkpoint_every", self.checkpoint_every, minimum=0, integer=True)
        if self.clip_grad is not None:
            check_number("loop", "clip_grad", self.clip_grad, above=0)
        if self.stop_after is not None:
            check_number("loop", "stop_after", self.stop_after, minimum=1, integer=True)
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise ValueError(f"loop: amp must be 'auto', 'bf16', 'fp16' or 'off', got {self.amp!r}")
        if self.progress not in SETTINGS:
            raise ValueError(f"loop: progress must be one of {', '.join(SETTINGS)}, got {self.progress!r}")


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full precision)."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


StepFn = Callable[[nn.Module, Any, int], tuple[Tensor, dict[str, Any], int]]


class CompileFallbackWarning(UserWarning):
    """``torch.compile`` failed; the run continues in eager mode."""


def is_compiler_error(e: BaseException) -> bool:
    """Whether ``e`` was raised by torch's compiler stack (dynamo, inductor, AOT autograd,
    FX passes) rather than by the model's own code run eagerly. An error of the model
    itself raised while dynamo traces it is caught too; the eager retry raises it again."""
    from torch._dynamo.exc import TorchDynamoException

    if isinstance(e, TorchDynamoException):
        return True
    parts = [f"{os.sep}torch{os.sep}{m}{os.sep}" for m in ("_dynamo", "_inductor", "_functorch", "fx")]
    tb = e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if any(p in name for p in parts):
            return True
        tb = tb.tb_next
    return False


def _describe(e: BaseException) -> str:
    """``Type: first line`` of the error that started it (a backend failure wraps the real one)."""
    inner = getattr(e, "inner_exception", None) or e.__cause__ or e
    lines = [x for x in str(inner).strip().splitlines() if x.strip()]
    return f"{type(inner).__name__}: {lines[0][:300] if lines else ''}"


@torch.no_grad()
def first_nonfinite(state: dict[str, Tensor]) -> str | None:
    """The name of the first floating-point tensor of ``state`` holding a NaN or an infinity
    (None if all are finite). One small reduction per tensor and a single host transfer."""
    names = [k for k, v in state.items() if isinstance(v, Tensor) and v.is_floating_point() and v.numel()]
    if not names:
        return None
    ok = torch.stack([torch.isfinite(state[k]).all().to(state[names[0]].device) for k in names]).cpu()
    if bool(ok.all()):
        return None
    return names[int((~ok).nonzero()[0])]


class _DeviceMeter:
    """Sums of scalar metrics kept on their device (float64, as Python floats would be),
    read with one host transfer when a mean is asked for."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor | float] = {}
        self.count = 0

    def add(self, values: dict[str, Tensor | float]) -> None:
        for k, v in values.items():
            v = v.detach().double() if isinstance(v, Tensor) else float(v)
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        self.count += 1

    def mean_and_reset(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        dev = next((v.device for v in self.sums.values() if isinstance(v, Tensor)), torch.device("cpu"))
        sums = torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float64, device=dev) for k in keys])
        # float32, averaged over processes (one collective on the metrics' device), one host transfer
        mean = D.all_reduce_mean((sums / self.count).float()).tolist()
        self.sums, self.count = {}, 0
        return dict(zip(keys, mean))


_NONE = 2**62  # "no bad step yet"


class _FiniteWatch:
    """Remembers, on the device, the first step whose loss was not finite (no host sync)."""

    def __init__(self) -> None:
        self.first: Tensor | None = None  # int64 0-dim: the first bad step, or _NONE
        self.value: Tensor | None = None  # the loss at that step
        self.bad_value = float("nan")

    def observe(self, loss: Tensor, step: int) -> None:
        loss = loss.detach().float().reshape(-1)
        if self.first is None:
            self.first = torch.full((), _NONE, dtype=torch.int64, device=loss.device)
            self.value = torch.zeros((), dtype=torch.float32, device=loss.device)
        new = (~torch.isfinite(loss).all()) & (self.first == _NONE)
        self.first = torch.where(new, torch.full_like(self.first, step), self.first)
        self.value = torch.where(new, loss[0], self.value)

    def first_bad_step(self) -> int | None:
        """The earliest non-finite step of any process (a collective: every rank gets the same)."""
        if self.first is None:
            return None
        first = int(D.all_reduce_min(self.first.reshape(1))[0])
        if first == _NONE:
            return None
        self.bad_value = float(self.value)
        return first


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
        self.eager_model = self.model  # the fallback if compilation fails
        self.compiled = False
        if cfg.compile:
            self.model = torch.compile(self.model)
            self.compiled = True
        self.scalars: ScalarLog | None = None  # TensorBoard, open during fit()

    # ---------------------------------------------------------------- logging
    def log(self, record: dict[str, Any], *, group: str = "train") -> None:
        """Log one record (with its ``step``): a line of ``metrics.jsonl`` and, during
        :meth:`fit`, TensorBoard scalars ``<group>/<key>`` (e.g. ``eval`` for an evaluation)."""
        self.run.log(record)
        if self.scalars is not None:
            self.scalars.write(record, group=group)

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
        """Write ``RUN/checkpoints/last.pt`` (atomically), after checking that every parameter
        and buffer is finite: a diverged state never replaces the last good checkpoint."""
        self._raise_if_state_not_finite()
        if self.run.main:
            atomic_save(self.state(), self.run.last_checkpoint)
        D.barrier()

    def _raise_if_state_not_finite(self) -> None:
        bad = first_nonfinite(self.module.state_dict())
        if bad is not None:
            raise self._diverged(f"{bad} holds non-finite values at step {self.step}")

    def _diverged(self, what: str) -> TrainingDiverged:
        """The error of a diverged run: what went wrong, and that the last good checkpoint stays."""
        where = self.run.last_checkpoint if self.run.last_checkpoint.exists() else "none written yet"
        return TrainingDiverged(
            f"{self.desc}: {what}; stopped without writing a checkpoint (last good checkpoint: {where}). "
            "Lower the learning rate, enable --clip-grad or use --amp off, then resume or restart."
        )

    def resume(self, path: str | os.PathLike | None = None) -> int:
        """Load the training state (default: the run's ``checkpoints/last.pt``). Returns the step.

        The file is read onto the CPU; ``load_state_dict`` then copies the weights and the
        optimiser's state to wherever the module lives, and the RNG states (which torch only
        takes as CPU tensors) are restored from the CPU copies."""
        path = self.run.last_checkpoint if path is None else path
        ckpt = safe_load(path, map_location="cpu")
        check_compatible(ckpt, self.meta, str(path))
        saved_opt, opt = ckpt.get("optimizer_name"), type(self.optimizer).__name__
        if saved_opt is not None and saved_opt != opt:
            raise ValueError(
                f"{path} was written by a run using {saved_opt}, but this run is configured for {opt}: "
                "resume with the same optimizer (--optimizer), or start a new run directory"
            )
        self.module.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        restore_rng(ckpt["rng"], self.generators)
        self.step = int(ckpt["step"])
        self.run.truncate_metrics(self.step)
        return self.step

    # ---------------------------------------------------------------- one step
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _forward_backward(self, step_fn: StepFn, batch: Any) -> tuple[Tensor, dict[str, Any], int]:
        with self._autocast():
            loss, metrics, n_clips = step_fn(self.model, batch, self.step)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        return loss, metrics, n_clips

    def _guarded_forward_backward(self, step_fn: StepFn, batch: Any) -> tuple[Tensor, dict[str, Any], int]:
        """:meth:`_forward_backward`; with ``compile``, a failure of the compiler (dynamo,
        inductor, AOT autograd) switches this run to eager mode with one warning and redoes
        the step. At the run's first step the module's state and the RNGs are restored before
        the retry, so the eager run is the one that would have run without ``--compile``."""
        if not self.compiled:
            return self._forward_backward(step_fn, batch)
        first = not getattr(self, "_compiled_ran", False)
        saved = (copy.deepcopy(self.module.state_dict()), capture_rng(self.generators)) if first else None
        try:
            out = self._forward_backward(step_fn, batch)
        except Exception as e:
            if not is_compiler_error(e):
                raise
            warnings.warn(
                f"{self.desc}: torch.compile failed with torch {torch.__version__} "
                f"({_describe(e)}); continuing without --compile (eager mode)",
                CompileFallbackWarning,
                stacklevel=2,
            )
            self.model, self.compiled = self.eager_model, False
            self.optimizer.zero_grad(set_to_none=True)
            if saved is not None:
                self.module.load_state_dict(saved[0])
                restore_rng(saved[1], self.generators)
            return self._forward_backward(step_fn, batch)
        self._compiled_ran = True
        return out

    def _update(self) -> None:
        cfg = self.cfg
        if cfg.clip_grad:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.module.parameters(), cfg.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scheduler is not None:
            self.scheduler.step()

    # ---------------------------------------------------------------- the loop
    def fit(
        self,
        batches: Callable[[int], Iterable[Any]],
        step_fn: StepFn,
        after_step: Callable[[nn.Module], None] | None = None,
        callback: Callable[[int], None] | None = None,
    ) -> dict[str, float]:
        """Train from ``self.step`` to ``cfg.steps``; returns the last logged metrics.

        ``callback(step)`` runs after every step (e.g. epoch-end evaluation)."""
        cfg = self.cfg
        main = self.run.main
        progress = Progress(
            progress_mode(cfg.progress) if main else "off",
            desc=self.desc,
            total=cfg.steps,
            initial=self.step,
            log_file=self.run.log_file if main else None,
        )
        scalars = ScalarLog(self.run.path / TB_FOLDER, enabled=cfg.tensorboard and main, start_step=self.step)
        self.scalars = scalars
        try:
            last = self._loop(batches, step_fn, after_step, callback, progress)
        finally:
            progress.close()
            scalars.close()
            self.scalars = None
        progress.close(self.step)
        return last

    def _loop(
        self,
        batches: Callable[[int], Iterable[Any]],
        step_fn: StepFn,
        after_step: Callable[[nn.Module], None] | None,
        callback: Callable[[int], None] | None,
        progress: Progress,
    ) -> dict[str, float]:
        cfg = self.cfg
        it: Iterator[Any] = iter(batches(self.step))
        self.module.train()
        last: dict[str, float] = {}
        window_clips, window_t0 = 0, time.perf_counter()
        run_t0 = time.perf_counter()
        meter = _DeviceMeter()
        watch = _FiniteWatch()
        end = cfg.steps if cfg.stop_after is None else min(cfg.steps, cfg.stop_after)
        while self.step < end:
            try:
                batch = next(it)
            except StopIteration:
                raise RuntimeError(
                    f"the data ran out at step {self.step} of {cfg.steps}; the batch iterator must be "
                    "endless (it is re-created from the step on resume)"
                ) from None
            loss, metrics, n_clips = self._guarded_forward_backward(step_fn, batch)
            watch.observe(loss.detach(), self.step + 1)
            self._update()
            if after_step is not None:
                after_step(self.module)
            self.step += 1
            window_clips += n_clips * D.world_size()
            meter.add({"loss": loss.detach(), **metrics})
            log_now = self.step % cfg.log_every == 0 or self.step == cfg.steps
            save_now = cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < cfg.steps
            if log_now or save_now or self.step == end:
                self._raise_if_diverged(watch)  # one host sync per log / checkpoint, not per step
            if log_now:
                dt = time.perf_counter() - window_t0
                last = meter.mean_and_reset()
                rec = {
                    "step": self.step,
                    **last,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "clips_per_s": window_clips / max(dt, 1e-9),
                    "time": time.perf_counter() - run_t0,
                }
                self.log(rec)  # metrics.jsonl and TensorBoard, from values already on the host
                progress.log(rec)
                window_clips, window_t0 = 0, time.perf_counter()
            progress.advance()
            if callback is not None:
                callback(self.step)
            if save_now:
                self.save()
        self._raise_if_diverged(watch)
        self.save()
        self.check_replicas()
        return last

    def _raise_if_diverged(self, watch: _FiniteWatch) -> None:
        step = watch.first_bad_step()  # the same on every rank (a collective), so all stop together
        if step is not None:
            raise self._diverged(f"loss is {watch.bad_value} at step {step}")

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
        self.run.write_json(
            "replicas.json", {"world_size": D.world_size(), "max_abs_diff_sum": value, "step": self.step}
        )
        if value > 0:
            raise RuntimeError(f"DDP replicas diverged: parameters differ from rank 0 by up to {value:g}")
        return value
