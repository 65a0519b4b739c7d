"""FAME: Foreground-background Merging (Ding et al., CVPR 2022, "Motion-aware Contrastive Video
Representation Learning via Foreground-background Merging"), the successor of BE.

BE adds a static frame to every frame; FAME keeps the moving foreground of a clip and replaces
its background with another clip's: ``x̃ = M ⊙ x_i + (1 − M) ⊙ x_π(i)``. The mask ``M`` comes
from the clip itself, with no ground truth:

1. *motion seed*: the mean absolute frame difference per pixel;
2. *colour statistics*: the clip's mean frame, its colours quantised to ``bins``³ cells; the
   share of each cell that falls in the seed's most moving pixels (``seed_fraction``) rather
   than its least moving half is the colour's foreground probability;
3. the score of a pixel is its normalised motion plus its colour's foreground probability, and
   the ``keep`` fraction of pixels with the highest scores is the foreground (the paper keeps
   the top half).

The mask is one per clip, the same for all frames (the union of where the actor moves). All
of it runs on the batch's device, in a few batched ops, with draws from ``generator``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["foreground_mask", "fame"]


@torch.no_grad()
def foreground_mask(x: Tensor, keep: float = 0.5, *, bins: int = 8, seed_fraction: float = 0.1) -> Tensor:
    """FAME's foreground mask of each clip: ``(B, C, T, H, W)`` float -> ``(B, 1, 1, H, W)`` in {0, 1}
    (the ``keep`` fraction of each clip's pixels is 1). See the module docstring."""
    if x.dim() != 5 or x.shape[2] < 2:
        raise ValueError(f"foreground_mask needs clips (B, C, T>=2, H, W), got shape {tuple(x.shape)}")
    if not 0 < keep < 1 or not 0 < seed_fraction < 1:
        raise ValueError(f"keep and seed_fraction must be in (0, 1), got {keep}, {seed_fraction}")
    B, C, _, H, W = x.shape
    x = x.float()
    motion = (x[:, :, 1:] - x[:, :, :-1]).abs().sum(1).mean(1).flatten(1)  # (B, H*W)
    mean = x.mean(2).flatten(2)  # (B, C, H*W): the clip's mean frame
    lo, hi = mean.amin(2, keepdim=True), mean.amax(2, keepdim=True)
    q = ((mean - lo) / (hi - lo).clamp_min(1e-6) * bins).long().clamp_(0, bins - 1)  # (B, C, H*W)
    cell = (q * (bins ** torch.arange(C, device=x.device)).view(1, C, 1)).sum(1)  # (B, H*W) colour cell
    seed_fg = motion >= torch.quantile(motion, 1 - seed_fraction, dim=1, keepdim=True)  # (B, H*W)
    seed_bg = motion <= torch.quantile(motion, 0.5, dim=1, keepdim=True)
    cells = bins**C
    fg = torch.zeros(B, cells, device=x.device).scatter_add_(1, cell, seed_fg.float())  # (B, cells)
    bg = torch.zeros(B, cells, device=x.device).scatter_add_(1, cell, seed_bg.float())
    p_fg = (fg / (fg + bg).clamp_min(1.0)).gather(1, cell)  # (B, H*W) colour's foreground probability
    score = motion / motion.amax(1, keepdim=True).clamp_min(1e-12) + p_fg
    k = max(1, round(keep * H * W))
    top = score.topk(k, dim=1).indices  # (B, k): exactly k pixels, ties broken by position
    return torch.zeros_like(score).scatter_(1, top, 1.0).view(B, 1, 1, H, W)


def fame(x: Tensor, keep: float = 0.5, *, generator: torch.Generator | None = None) -> Tensor:
    """Foreground-background merging: each clip's foreground (:func:`foreground_mask`) on the
    background of another clip of the batch (a random permutation π drawn from ``generator``):
    ``(B, C, T, H, W)`` -> same shape and dtype."""
    B = x.shape[0]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    perm = torch.randperm(B, generator=generator, device=gen_device).to(x.device)  # (B,) the background donors
    m = foreground_mask(x, keep).to(x.dtype)  # (B, 1, 1, H, W)
    return torch.lerp(x.index_select(0, perm), x, m)  # M ⊙ x_i + (1 − M) ⊙ x_π(i)
