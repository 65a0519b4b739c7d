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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Method, MethodConfig, register_method
from .pretext import apply_transform, transform_labels

__all__ = ["ArrowOfTime"]


@register_method("arrow_of_time", label="Arrow of time (control)")
class ArrowOfTime(Method):
    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder  # VideoModel: .features(x) -> (N, D)
        self.classifier = nn.Linear(encoder.backbone.feature_dim, 2)

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x = views[0]  # (N, 3, T, H, W)
        labels = transform_labels("flip", x.shape[0], generator, x.device)  # (N,): 1 = played backward
        logits = self.classifier(self.encoder.features(apply_transform(x, labels, "flip")))  # (N, 2)
        loss = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            acc = (logits.argmax(1) == labels).float().mean()
            p_pos = logits.float().softmax(1).gather(1, labels[:, None]).mean()
        return loss, {"p_pos": p_pos, "acc": acc}
