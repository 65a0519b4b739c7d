"""``be_triplet``: all three clips through the online encoder, no queue and no EMA
(the paper's ``pt.py`` ``train_be_triplet``, which crashes as released, original-code.md §1.5).

Loss = TripletMargin(BE(a), p, n) + TripletMargin(BE(a), p, flip_batch(n)): the second,
"inter" term pairs each anchor with the negative of the batch-reversed sample.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..augment import background_erasing
from .base import Method, MethodConfig, register_method

__all__ = ["TripletMethod"]


@register_method("be_triplet", label="BE triplet")
class TripletMethod(Method):
    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        self.loss = nn.TripletMarginLoss(margin=cfg.triplet_margin, p=2)

    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames", "other_time")

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        a, p, n = views[0], views[1], views[2]  # (N, 3, T, H, W) each
        a = background_erasing(
            a, self.cfg.be_alpha, generator=generator, lam_per_clip=self.cfg.be_lam_per_clip, source=self.cfg.be_source
        )
        q, k, neg = self.encoder(a), self.encoder(p), self.encoder(n)  # (N, C) each
        loss = self.loss(q.float(), k.float(), neg.float()) + self.loss(q.float(), k.float(), neg.flip(0).float())
        with torch.no_grad():
            d_pos = (q - k).norm(dim=1)
            d_neg = (q - neg).norm(dim=1)
            # Probability-like summary comparable to the contrastive methods: softmax over -distances.
            p_pos = torch.softmax(torch.stack([-d_pos, -d_neg], 1), 1)[:, 0].mean()
            acc = (d_pos < d_neg).float().mean()
        return loss, {"p_pos": p_pos, "acc": acc}
