"""Learning-rate schedules: linear warm-up, then cosine decay or step decay."""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["build_scheduler"]


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    *,
    kind: Literal["cosine", "step", "constant"] = "cosine",
    warmup_steps: int = 0,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    min_factor: float = 0.0,
) -> LambdaLR:
    """Per-step schedule: ``lr(step) = base_lr * factor(step)``.

    * warm-up: factor rises linearly from 1/warmup_steps to 1 over ``warmup_steps`` steps;
    * ``cosine``: then decays as ``min + (1-min)·½(1+cos(π·progress))`` to ``min_factor``;
    * ``step``: multiplied by ``gamma`` at each milestone step (the paper: ×0.1 at epochs
      120/160/200 for pretraining, ×0.3 at 10/20/25/30/35/40 for finetuning);
    * ``constant``: 1 after warm-up.
    """
    if kind not in ("cosine", "step", "constant"):
        raise ValueError(f"unknown schedule {kind!r}; choose cosine, step or constant")
    total = max(1, total_steps)
    ms = sorted(int(m) for m in milestones)

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        if kind == "cosine":
            progress = min(1.0, (step - warmup_steps) / max(1, total - warmup_steps))
            return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
        if kind == "step":
            return gamma ** sum(step >= m for m in ms)
        return 1.0

    return LambdaLR(optimizer, factor)
