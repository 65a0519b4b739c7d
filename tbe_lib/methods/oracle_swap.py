"""``oracle_swap``: a control, not a method one could use on real data. MoCo whose query is the
anchor's actor, cut out with the embedded benchmark's *ground-truth* mask, on another video's
clip: FAME's merge (:mod:`.fame`) with a perfect mask instead of one estimated from frame
differences. It shows how far a perfect "remove the background" augmentation can go at this
budget, so that BE and FAME can be placed between MoCo and it.

The dataset makes the swapped clip (the ``actor_swap`` view, in uint8 before augmentation, so
the mask is exact); the key is the clean anchor frames (``same_frames``), augmented separately.
The sampler's ``anchor`` view is not used (views must start with it). With
``extra_negative``, an other-video clip is the extra negative, as ``moco_paper``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import MethodConfig, register_method
from .moco import MoCoMethod

__all__ = ["OracleSwapMethod"]


@register_method("oracle_swap", label="Oracle actor swap (control)")
class OracleSwapMethod(MoCoMethod):
    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        views = ("anchor", "same_frames", "actor_swap")  # (N, 3, T, H, W) each
        return (*views, cls.negative_view) if cfg.extra_negative else views

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        # [query, key, (negative)]: the swapped clip is the query, the clean frames the key.
        return super().forward([views[2], views[1], *views[3:]], generator)
