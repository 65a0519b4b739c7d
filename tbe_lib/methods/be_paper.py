"""``moco_paper`` and ``be_paper``: the paper's two contrastive methods exactly as its code trains
them (original-code.md §1.2, §1.4): the extra negative logit is always there.

* ``moco_paper``: the "MoCo baseline"; its extra negative is a clip of *another* video.
* ``be_paper``: BE; its extra negative is a clip of the *same* video at another time, through
  the query encoder: a temporal negative, which pushes the representation to tell two moments
  of one video apart.

``moco`` and ``be`` without ``extra_negative`` are the ablations that drop that term, and
``be_other`` is BE with MoCo's other-video negative: with ``be`` and ``be_paper`` it decomposes
the paper's recipe (BE x {no extra negative, other-video, intra-video}).
"""

from __future__ import annotations

from .base import MethodConfig, register_method
from .be import BEMethod
from .moco import MoCoMethod

__all__ = ["MoCoPaper", "BEPaper", "BEOtherVideo"]


@register_method("moco_paper", label="MoCo (paper: + other-video negative)")
class MoCoPaper(MoCoMethod):
    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames", cls.negative_view)  # (N, 3, T, H, W) each


@register_method("be_paper", label="BE (paper: + intra-video negative)")
class BEPaper(BEMethod):
    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames", cls.negative_view)


@register_method("be_other", label="BE + other-video negative")
class BEOtherVideo(BEMethod):
    negative_view = "other_video"

    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames", cls.negative_view)
