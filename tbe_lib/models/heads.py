"""Heads on top of a backbone feature map ``(B, C, t, h, w)``.

* :class:`ProjectionHead`: the contrastive head. The paper's is global average pool ->
  a single ``Linear(C, 128)`` -> L2 normalisation (original-code.md §2, ``id_head``);
  ``hidden_dim`` turns it into the MoCo-v2 style MLP ``Linear -> BN -> ReLU -> Linear``.
* :class:`ClassifierHead`: global average pool -> dropout -> ``Linear(C, num_classes)``
  -> logits (not log-softmax; use ``F.cross_entropy``). This replaces the paper's I3D
  (7,1,1)-conv classifier, which only works at 224 px.

Both accept either the 5-D map or already pooled ``(B, C)`` features. Linear layers keep
PyTorch's default init (as the paper's code does), except the classifier's weight,
``N(0, 0.01)`` with zero bias (torchvision's video-ResNet convention).
Each head records its architecture in ``head.arch`` (a plain dict).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ProjectionHead", "ClassifierHead", "global_pool"]


def global_pool(x: torch.Tensor) -> torch.Tensor:
    """Global average pool: (B, C, t, h, w) -> (B, C); (B, C) passes through."""
    if x.dim() == 5:
        return x.mean(dim=(2, 3, 4))
    if x.dim() == 2:
        return x
    raise ValueError(f"expected a (B, C, t, h, w) feature map or (B, C) features, got shape {tuple(x.shape)}")


class ProjectionHead(nn.Module):
    """(B, in_dim, t, h, w) or (B, in_dim) -> (B, out_dim), unit L2 norm per row."""

    def __init__(self, in_dim: int, out_dim: int = 128, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.proj: nn.Module
        if hidden_dim is None:
            self.proj = nn.Linear(in_dim, out_dim)  # the paper's head
        else:
            self.proj = nn.Sequential(
                nn.Linear(in_dim, hidden_dim),
                nn.BatchNorm1d(hidden_dim),
                nn.ReLU(inplace=True),
                nn.Linear(hidden_dim, out_dim),
            )
        self.arch: dict[str, Any] = dict(kind="projection", in_dim=in_dim, out_dim=out_dim, hidden_dim=hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.proj(global_pool(x))  # (B, out_dim)
        return F.normalize(z, dim=1)


class ClassifierHead(nn.Module):
    """(B, in_dim, t, h, w) or (B, in_dim) -> logits (B, num_classes)."""

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_dim, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)
        nn.init.zeros_(self.fc.bias)
        self.arch: dict[str, Any] = dict(kind="classifier", in_dim=in_dim, num_classes=num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(global_pool(x)))  # (B, num_classes)
