"""``frame_order``: are the clip's frames in their order or shuffled? (Misra et al., ECCV 2016,
"Shuffle and Learn", as a binary classification of whole clips.) The positive control for
motion on the embedded benchmark: a static background looks the same in any order, and,
unlike the arrow of time (:mod:`.arrow_of_time`), the task is solvable there (a shuffled clip's
actor jumps instead of moving smoothly). Half of the clips, drawn from ``generator``, get a
random permutation of their frames (never the identity); no BE term.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Method, MethodConfig, classification_loss, register_method

__all__ = ["FrameOrder", "shuffle_frames"]


def shuffle_frames(x: Tensor, shuffled: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Clips ``x`` (N, C, T, H, W) with the frames of clip i permuted when ``shuffled[i]``
    (a random permutation, never the identity: a cyclic shift is composed with it when the
    draw is the identity), in one gather."""
    n, _, t = x.shape[:3]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    perm = torch.rand(n, t, generator=generator, device=gen_device).argsort(1).to(x.device)  # (N, T)
    identity = (perm == torch.arange(t, device=x.device)).all(1, keepdim=True)  # (N, 1)
    perm = torch.where(identity, perm.roll(1, dims=1), perm)
    order = torch.where(shuffled[:, None], perm, torch.arange(t, device=x.device))  # (N, T)
    index = order.view(n, 1, t, 1, 1).expand(-1, x.shape[1], -1, x.shape[3], x.shape[4])
    return x.gather(2, index)


@register_method("frame_order", label="Frame order (control)")
class FrameOrder(Method):
    """Binary classifier (ordered / shuffled) on the backbone's features."""

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder  # VideoModel: .features(x) -> (N, D)
        self.classifier = nn.Linear(encoder.backbone.feature_dim, 2)

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x = views[0]  # (N, 3, T, H, W)
        gen_device = generator.device if generator is not None else torch.device("cpu")
        labels = torch.randint(2, (x.shape[0],), generator=generator, device=gen_device).to(
            x.device
        )  # (N,) 1: shuffled
        logits = self.classifier(self.encoder.features(shuffle_frames(x, labels.bool(), generator)))  # (N, 2)
        return classification_loss(logits, labels)
