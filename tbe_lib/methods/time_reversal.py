"""``time_reversal``: MoCo whose extra negative is the query clip itself played backward (encoded
by the query encoder). The reversed clip has exactly the query's background and appearance, so
the only way to tell it from the positive is the direction of the motion: a positive control
for motion, built from the same contrastive machinery as the methods it controls. Unlike the
arrow-of-time *classifier* (:mod:`.arrow_of_time`), which the embedded benchmark makes
unsolvable (every class played backward is another class), it needs no global direction of
time, only that a clip and its reversal differ. Not from the BE paper: a control of ours, in
the spirit of the temporal hard negatives of later work.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MethodConfig, register_method
from .moco import MoCoMethod

__all__ = ["TimeReversal"]


@register_method("time_reversal", label="MoCo + time-reversed negative (control)")
class TimeReversal(MoCoMethod):
    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames")  # (N, 3, T, H, W) each; the negative is made from the anchor

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return super().forward([views[0], views[1], views[0].flip(2)], generator)  # [query, key, reversed query]
