"""``VideoModel`` = backbone + optional head, and :func:`build_model` (one signature for
every backbone, in the timm/torchvision style).

``model.arch`` is a plain dict describing the architecture; it is stored in checkpoints
(:func:`tbe_lib.models.weights.checkpoint_dict`) and checked when loading::

    {"backbone": "r3d_tiny", "backbone_kwargs": {"widths": [16, 32, 64, 128], ...},
     "head": {"kind": "projection", "in_dim": 128, "out_dim": 128, "hidden_dim": None}}
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn as nn

from .heads import ClassifierHead, ProjectionHead, global_pool
from .registry import build_backbone

__all__ = ["VideoModel", "build_model", "HEAD_KINDS"]

HEAD_KINDS = ("projection", "classifier", None)


class VideoModel(nn.Module):
    """A backbone ``(B, 3, T, H, W) -> (B, C, t, h, w)`` with an optional head.

    * ``forward(x)``: head output, e.g. (B, 128) unit-norm embeddings or (B, K) logits;
      without a head, the pooled features (B, C).
    * ``features(x)``: globally average-pooled backbone features (B, C) (what the paper
      uses for retrieval: 512-d for C3D, 1024-d for I3D).
    * ``feature_map(x)``: the backbone map (B, C, t, h, w).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        backbone_arch = getattr(backbone, "arch", None) or {"backbone": None, "backbone_kwargs": {}}
        head_arch = None if head is None else getattr(head, "arch", {"kind": type(head).__name__})
        self.arch: dict[str, Any] = {**copy.deepcopy(backbone_arch), "head": copy.deepcopy(head_arch)}

    @property
    def feature_dim(self) -> int:
        """Channels C of the backbone map (= size of :meth:`features`)."""
        return int(self.backbone.feature_dim)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, C, t, h, w)."""
        return self.backbone(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, C), global average pool of the backbone map."""
        return global_pool(self.backbone(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> head output (B, D), or pooled features (B, C) without a head."""
        fmap = self.backbone(x)  # (B, C, t, h, w)
        return global_pool(fmap) if self.head is None else self.head(fmap)


def build_model(
    name: str,
    head: str | None = "projection",
    num_classes: int | None = None,
    proj_dim: int = 128,
    proj_hidden: int | None = None,
    dropout: float = 0.5,
    **backbone_kw: Any,
) -> VideoModel:
    """Build backbone ``name`` (see :func:`~tbe_lib.models.list_backbones`) with a head.

    Args:
        head: ``"projection"`` (L2-normalised ``proj_dim`` embedding; ``proj_hidden``
            makes it an MLP), ``"classifier"`` (needs ``num_classes``; ``dropout`` before
            the linear layer) or ``None`` (``forward`` returns pooled features).
        **backbone_kw: passed to the backbone factory (e.g. ``widths=`` for r3d_tiny).
    """
    if head not in HEAD_KINDS:
        raise ValueError(f"head must be one of {HEAD_KINDS}, got {head!r}")
    if head == "classifier" and num_classes is None:
        raise ValueError("head='classifier' needs num_classes (e.g. num_classes=101 for UCF101)")
    if head != "classifier" and num_classes is not None:
        raise ValueError(f"num_classes={num_classes} is only used by head='classifier' (got head={head!r})")
    backbone = build_backbone(name, **backbone_kw)
    head_module: nn.Module | None
    if head == "projection":
        head_module = ProjectionHead(backbone.feature_dim, proj_dim, proj_hidden)
    elif head == "classifier":
        head_module = ClassifierHead(backbone.feature_dim, int(num_classes), dropout)  # type: ignore[arg-type]
    else:
        head_module = None
    return VideoModel(backbone, head_module)
