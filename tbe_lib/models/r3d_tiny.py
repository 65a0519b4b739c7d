"""r3d_tiny: a small, configurable 3-D ResNet for CPU experiments and tests.

Not from the paper: it exists so that BE pretraining, finetuning and the embedded
benchmark run in minutes on 2 CPU cores (default: 0.9 M parameters, trains at tens
of clips/s at 16x64x64; see ``bench/bench_models.py``).

Layout (defaults in brackets)::

    stem   conv stem_kernel [3x5x5], stride stem_stride [(1,4,4)] -> BN -> ReLU
           [-> maxpool 1x3x3 / (1,2,2) if stem_pool, off by default]
    stage1 blocks[0] residual blocks, widths[0] channels, stride 1
    stageN blocks[i] residual blocks, widths[i] channels, first block stride 2 in t, h, w

The default stem reaches spatial stride 4 in one strided conv instead of the usual
stride-2 conv + max-pool (ResNet style, ``stem_stride=(1, 2, 2), stem_pool=True``): on
CPU a 3-input-channel conv at full resolution and ``max_pool3d`` are the two most
expensive ops of such a small net, and the 5x5 kernel still overlaps its stride.

Blocks are basic residual blocks (two convs) with plain 3x3x3 convs (``block="3d"``) or
(2+1)-D factorised convs (``block="2plus1d"``: 1x3x3 spatial conv -> BN -> ReLU -> 3x1x1
temporal conv, with the middle width chosen to match the 3x3x3 parameter count, as in
R(2+1)D). Overall stride with the defaults (4 stages): (8, 32, 32), so 16x64x64 -> 2x2x2
and 8x32x32 -> 1x1x1; ``stem_stride=(1, 2, 2)`` gives stride (8, 16, 16), i.e. 1x2x2 at
8x32x32, at a few times the cost. At a 1x1x1 output, BatchNorm in training mode needs
batch >= 2.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .initialization import init_weights
from .registry import register_backbone

__all__ = ["R3DTiny", "BasicBlock3D", "r3d_tiny"]


def _conv_unit(cin: int, cout: int, stride: int, block: str) -> nn.Module:
    """A 3x3x3-receptive-field conv ``cin -> cout`` with ``stride`` in (t, h, w)."""
    if block == "3d":
        return nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
    # (2+1)D: middle width keeps the parameter count of the 3x3x3 conv (Tran et al. 2018).
    mid = max(1, (27 * cin * cout) // (9 * cin + 3 * cout))
    return nn.Sequential(
        nn.Conv3d(cin, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, cout, (3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False),
    )


class BasicBlock3D(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``; (B, cin, t, h, w) -> (B, cout, t/s, h/s, w/s)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, block: str = "3d") -> None:
        super().__init__()
        self.conv1 = _conv_unit(cin, cout, stride, block)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = _conv_unit(cout, cout, 1, block)
        self.bn2 = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class R3DTiny(nn.Module):
    """Small 3-D ResNet trunk: ``(B, in_channels, T, H, W) -> (B, widths[-1], t, h, w)``;
    ``feature_dim`` = ``widths[-1]`` (128 by default)."""

    def __init__(
        self,
        *,
        widths: Sequence[int] = (16, 32, 64, 128),
        blocks: Sequence[int] = (1, 1, 1, 1),
        block: str = "3d",
        stem_kernel: Sequence[int] = (3, 5, 5),
        stem_stride: Sequence[int] = (1, 4, 4),
        stem_pool: bool = False,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        widths, blocks = list(widths), list(blocks)
        if not widths or len(widths) != len(blocks):
            raise ValueError(f"r3d_tiny: widths {widths} and blocks {blocks} must be non-empty and of equal length")
        if any(w < 1 for w in widths) or any(b < 1 for b in blocks):
            raise ValueError(f"r3d_tiny: widths {widths} and blocks {blocks} must be positive")
        if block not in ("3d", "2plus1d"):
            raise ValueError(f"r3d_tiny: block must be '3d' or '2plus1d', got {block!r}")
        if len(stem_kernel) != 3 or len(stem_stride) != 3 or any(k % 2 == 0 for k in stem_kernel):
            raise ValueError(
                f"r3d_tiny: stem_kernel {stem_kernel} must be 3 odd ints, stem_stride {stem_stride} 3 ints"
            )
        stem: list[nn.Module] = [
            nn.Conv3d(
                in_channels,
                widths[0],
                tuple(stem_kernel),
                stride=tuple(stem_stride),
                padding=tuple(k // 2 for k in stem_kernel),
                bias=False,
            ),
            nn.BatchNorm3d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        if stem_pool:
            stem.append(nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        self.stem = nn.Sequential(*stem)
        stages: list[nn.Module] = []
        cin = widths[0]
        for i, (width, depth) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            layers = [
                BasicBlock3D(cin if j == 0 else width, width, stride if j == 0 else 1, block) for j in range(depth)
            ]
            stages.append(nn.Sequential(*layers))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.feature_dim = int(widths[-1])
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T, H, W) -> (B, widths[-1], t, h, w).

        With n stages the overall stride is stem_stride · (1, 2, 2 if stem_pool) · 2^(n-1)
        per dim; defaults: (B, 3, 16, 64, 64) -> (B, 128, 2, 2, 2)."""
        return self.stages(self.stem(x))


#: The builder is the class itself: ``build_backbone("r3d_tiny", widths=..., ...)``.
r3d_tiny = register_backbone("r3d_tiny")(R3DTiny)
