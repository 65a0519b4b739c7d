"""Input checks shared by the evaluation functions: arrays or tensors in, tensors out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def as_features(x: Any, name: str, device: torch.device | str | None = None) -> Tensor:
    """A (N, D) floating tensor on ``device`` (default: where ``x`` already is).

    Accepts tensors and NumPy arrays; integer input is cast to float32, float16/bfloat16 to
    float32 (so CPU matmuls stay exact enough), float64 stays float64."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(t.shape)}")
    if t.dtype != torch.float64:
        t = t.float()
    return t.to(device) if device is not None else t


def as_labels(x: Any, name: str, n: int, device: torch.device | str | None = None) -> Tensor:
    """A (n,) int64 tensor; ``n`` is the number of feature rows the labels belong to."""
    if isinstance(x, Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}")
        t = torch.as_tensor(arr)
    if t.is_floating_point() or t.is_complex():
        raise ValueError(f"{name} must hold integer labels, got dtype {t.dtype}")
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match its features, got {tuple(t.shape)}")
    t = t.long()
    return t.to(device) if device is not None else t


def as_logits(x: Any, name: str) -> Tensor:
    """A (N, C) floating tensor (float32 unless float64)."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, C), got shape {tuple(t.shape)}")
    return t if t.dtype == torch.float64 else t.float()
