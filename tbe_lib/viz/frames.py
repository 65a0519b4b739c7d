"""Frame-strip figures of clips, e.g. a clip next to its Background-Erased version."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .style import LABEL_PT, PAGE_WIDTH_IN

__all__ = ["to_display", "frame_strip", "be_figure", "PAGE_WIDTH_IN", "LABEL_PT"]


def to_display(clip: Tensor) -> np.ndarray:
    """(C, T, H, W) float in [0, 1] or uint8 -> (T, H, W, C) float ndarray in [0, 1] for imshow."""
    if clip.dim() != 4:
        raise ValueError(f"expected one clip of shape (C, T, H, W), got {tuple(clip.shape)}")
    x = clip.detach().float().cpu()
    if clip.dtype == torch.uint8:
        x = x / 255.0
    return x.clamp(0, 1).permute(1, 2, 3, 0).numpy()


def frame_strip(
    rows: Sequence[Tensor],
    labels: Sequence[str],
    *,
    frames: Sequence[int] | None = None,
    cmap: str | None = None,
    title: str | None = None,
):
    """One row of frames per clip. ``rows``: clips (C, T, H, W); returns a matplotlib Figure at
    most :data:`PAGE_WIDTH_IN` wide (a column of 1.3 in per frame, narrower when there are many),
    with its labels at :data:`LABEL_PT`, so that it is legible at the size the book shows it."""
    import matplotlib.pyplot as plt

    T = rows[0].shape[1]
    frames = list(range(T)) if frames is None else list(frames)
    cell = min(1.3, (PAGE_WIDTH_IN - 1.2) / len(frames))  # 1.2 in for the row labels
    fig, axes = plt.subplots(
        len(rows), len(frames), figsize=(cell * len(frames) + 1.2, (cell + 0.25) * len(rows) + 0.4), squeeze=False
    )
    for r, (clip, label) in enumerate(zip(rows, labels)):
        img = to_display(clip)
        for c, t in enumerate(frames):
            ax = axes[r][c]
            ax.imshow(img[t] if img.shape[-1] == 3 else img[t, ..., 0], cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={t}", fontsize=LABEL_PT)
            if c == 0:
                ax.set_ylabel(label, fontsize=LABEL_PT)
    if title:
        fig.suptitle(title, fontsize=LABEL_PT + 1)
    fig.tight_layout()
    return fig


def be_figure(clip: Tensor, mixed: Tensor, *, lam: float, index: int, frames: Sequence[int] | None = None):
    """Clip, its BE version and the amplified absolute difference |x~ - x| (x10)."""
    diff = ((mixed.float() - clip.float()).abs() * 10).clamp(0, 1)
    return frame_strip(
        [clip, mixed, diff],
        ["clip x", f"BE x~ (λ={lam:.2f})", "|x~ - x| ×10"],
        frames=frames,
        title=f"Background Erasing: x~_j = (1-λ)·x_j + λ·x_k, static frame k={index}",
    )
