"""``be``: Background Erasing as the paper's code trains it (original-code.md §1.3-1.4).

MoCo where the query is ``BE(anchor)``: one frame of each clip mixed into all its frames with
``λ ~ U[0, be_alpha)`` (:func:`tbe_lib.augment.background_erasing`); the key is the same
frames, augmented separately and left clean. With ``extra_negative``, the paper's extra
negative is another clip of the *same* video at another time (the intra-video negative).
The ``be_inter`` row takes the static frame from another clip of the batch (an ablation).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..augment import background_erasing
from .base import register_method
from .moco import MoCoMethod

__all__ = ["BEMethod"]


@register_method("be", label="BE (no extra negative)", variants={"be_inter": ("BE (inter)", {"be_source": "inter"})})
class BEMethod(MoCoMethod):
    negative_view = "other_time"

    def make_query(self, anchor: Tensor, generator: torch.Generator | None) -> Tensor:
        c = self.cfg
        return background_erasing(
            anchor, c.be_alpha, generator=generator, lam_per_clip=c.be_lam_per_clip, source=c.be_source
        )  # (N, 3, T, H, W)
