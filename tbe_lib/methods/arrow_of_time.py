"""``arrow_of_time``: is the clip played forward or backward? A pretext with no background
shortcut (a static frame looks the same both ways), so it is the positive control: if any
pretraining can learn motion at a budget, this one should (Wei et al., CVPR 2018, "Learning
and Using the Arrow of Time"). No BE term: ``pretext --pretext-task flip`` adds one.

On the embedded benchmark this control is void by construction: each of its motion classes
played backward is another of them (left/right, up/down, clockwise/counter-clockwise,
approach/recede), so the direction of time is not in the pixels, only, perhaps, in the video
codec's artefacts (which are not symmetric in time). It is a control on real datasets, where
gravity, causality and human motion give time a direction.
"""

from __future__ import annotations

from .base import register_method
from .pretext import PretextMethod

__all__ = ["ArrowOfTime"]


@register_method("arrow_of_time", label="Arrow of time (control)")
class ArrowOfTime(PretextMethod):
    """Time reversal (label 1: played backward) from the backbone's features; no BE term."""

    task = "flip"
    with_be = False
