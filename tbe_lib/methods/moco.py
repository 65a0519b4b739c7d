"""``moco``: the paper's "MoCo baseline" (original-code.md §1.4).

Query and key are the same frames of a video, augmented separately; InfoNCE over
``[q·k, q·queue (, q·n)]`` where ``n``, with ``extra_negative``, is a clip of another video
encoded by the query encoder (the paper's extra negative). The contrastive machinery (key
encoder, queue, shuffling BN) is :class:`tbe_lib.moco.MoCo`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..moco import MoCo
from .base import Method, MethodConfig, register_method

__all__ = ["MoCoMethod"]


@register_method("moco", label="MoCo (no extra negative)")
class MoCoMethod(Method):
    """MoCo on clips; subclasses change the query (:meth:`make_query`) and the extra negative's view."""

    negative_view = "other_video"

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.moco = MoCo(encoder, cfg.dim, cfg.queue_size, cfg.momentum, cfg.temperature, cfg.bn_groups)
        self._pending_keys: Tensor | None = None

    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor", "same_frames", cls.negative_view) if cfg.extra_negative else ("anchor", "same_frames")

    @property
    def encoder(self) -> nn.Module:  # the query encoder is what finetuning starts from
        return self.moco.encoder_q

    def make_query(self, anchor: Tensor, generator: torch.Generator | None) -> Tensor:
        """The clip the query encoder sees (MoCo: the anchor itself)."""
        return anchor

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        anchor, key = views[0], views[1]  # (N, 3, T, H, W) each, augmented separately
        negative = views[2] if len(views) > 2 else None  # (N, 3, T, H, W): the extra negative
        query = self.make_query(anchor, generator)
        logits, k = self.moco(query, key, negative)  # (N, 1+K(+1)), (N, C); the positive in column 0
        self._pending_keys = k  # enqueued after the optimiser step
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            p_pos = logits.float().softmax(1)[:, 0].mean()
            acc = (logits.argmax(1) == 0).float().mean()
        return loss, {"p_pos": p_pos, "acc": acc}

    @torch.no_grad()
    def after_step(self) -> None:
        self.moco.momentum_update()
        if self._pending_keys is not None:
            self.moco.enqueue(self._pending_keys)
            self._pending_keys = None
