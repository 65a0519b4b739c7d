"""``fame``: MoCo whose query is the anchor's moving foreground merged onto another clip's
background (:func:`tbe_lib.augment.fame.fame`; Ding et al., CVPR 2022). Like BE it keeps the
key clean; unlike BE the background is not dimmed but replaced, so a static-background
shortcut cannot match query and key. ``extra_negative`` adds an other-time clip, as ``be``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..augment.fame import fame
from .base import register_method
from .moco import MoCoMethod

__all__ = ["FAMEMethod"]


@register_method("fame", label="FAME")
class FAMEMethod(MoCoMethod):
    negative_view = "other_time"

    def make_query(self, anchor: Tensor, generator: torch.Generator | None) -> Tensor:
        return fame(anchor, 0.5, generator=generator)  # (N, 3, T, H, W)
