"""``pan_direction``: which way does the camera pan? Each clip is given a synthetic camera motion,
a shift of ``s`` pixels per frame (wrapping around the frame) to the left, right, up, down, or
none, and a classifier on the backbone's features names it. A static background looks the same
under every label until it moves, so the only way to solve the task is to detect motion and
its direction; it is learned in a few hundred steps. The positive control for motion of the
embedded benchmark: it shows whether pretraining *can* put direction-selective motion features
into the encoder at a budget, so that a method that does not can be told from a budget at which
nothing could. Not from the BE paper (a control of ours); no BE term.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Method, MethodConfig, classification_loss, register_method

__all__ = ["PanDirection", "pan"]

#: (dx, dy) per label: none, left, right, up, down.
_DIRECTIONS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def pan(x: Tensor, labels: Tensor, step: int = 1) -> Tensor:
    """Clips ``x`` (N, C, T, H, W) with a camera pan of ``step`` pixels per frame in the direction
    of each clip's label (:data:`_DIRECTIONS`), wrapping around the frame, in one gather per
    axis: frame ``t`` of clip ``i`` is shifted by ``t * step`` pixels."""
    n, c, t, h, w = x.shape
    d = torch.tensor(_DIRECTIONS, device=x.device)[labels]  # (N, 2): dx, dy
    frames = torch.arange(t, device=x.device).view(1, t, 1) * step  # (1, T, 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) - frames * d[:, 0].view(n, 1, 1)) % w  # (N, T, W)
    rows = (torch.arange(h, device=x.device).view(1, 1, h) - frames * d[:, 1].view(n, 1, 1)) % h  # (N, T, H)
    x = x.gather(4, cols.view(n, 1, t, 1, w).expand(n, c, t, h, w))
    return x.gather(3, rows.view(n, 1, t, h, 1).expand(n, c, t, h, w))


@register_method("pan_direction", label="Pan direction (control)")
class PanDirection(Method):
    """Five-way classifier (no pan, left, right, up, down) on the backbone's features."""

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder  # VideoModel: .features(x) -> (N, D)
        self.classifier = nn.Linear(encoder.backbone.feature_dim, len(_DIRECTIONS))

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x = views[0]  # (N, 3, T, H, W)
        gen_device = generator.device if generator is not None else torch.device("cpu")
        labels = torch.randint(len(_DIRECTIONS), (x.shape[0],), generator=generator, device=gen_device).to(x.device)
        logits = self.classifier(self.encoder.features(pan(x, labels)))  # (N, 5)
        return classification_loss(logits, labels)
