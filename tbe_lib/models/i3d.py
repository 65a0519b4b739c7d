"""I3D: Inception-v1 (GoogLeNet with BN) inflated to 3-D (Carreira & Zisserman, CVPR 2017).

The backbone of the paper's main results (original-code.md §2). Written here from the
published layer table: stem ``Conv 7x7x7/2 -> MaxPool 1x3x3/(1,2,2) -> Conv 1x1x1 ->
Conv 3x3x3 -> MaxPool 1x3x3/(1,2,2)``, inception blocks 3b, 3c, MaxPool 3x3x3/2, 4b-4f,
MaxPool 2x2x2/2, 5b, 5c; every conv is conv (no bias) -> BN -> ReLU; output 1024 channels.

Output: ``(B, 3, T, H, W) -> (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32))``, e.g.
16x224x224 -> 2x7x7, 16x112x112 -> 2x4x4, 8x112x112 -> 1x4x4 (12.3 M parameters).

How this differs from the paper's I3D (``model/i3d.py``, ported from TF kinetics-i3d):

* Padding. The paper's code emulates TensorFlow "SAME" padding, which pads strided
  layers asymmetrically (the extra pixel at the end). We pad symmetrically (``k // 2``
  for odd kernels) and use ``ceil_mode`` on the final 2x2x2 pool: every layer gives the
  same output size as TF SAME (``ceil(in / stride)``), so the trunk works at 112 and
  224, but strided layers see the input shifted by one pixel relative to TF. Weights
  from TF-SAME I3D checkpoints are therefore not bit-compatible (and not supported).
* No classifier in the trunk. The paper's finetuning head is AvgPool (2,7,7) -> dropout
  -> a Unit3D conv with a (7,1,1) temporal kernel -> mean over time -> log_softmax
  (it crashes at 112, where the map is 4x4). Ours is :class:`~tbe_lib.models.heads.ClassifierHead`:
  global average pool -> dropout -> Linear -> logits, which works at any input size.
* BN uses PyTorch defaults (eps 1e-5, momentum 0.1) instead of TF's (eps 1e-3, decay 0.99).
* None of the unused modules of the paper's file (PatchPaint/PatchDis from the missing
  ``bk`` package, MotionEnhance) are present.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
import torch.nn as nn

from .initialization import init_weights
from .registry import register_backbone

__all__ = ["I3D", "InceptionBlock3D", "i3d"]

_Triple = tuple[int, int, int]


def _same_padding(kernel: _Triple) -> _Triple:
    """Symmetric 'same'-style padding for odd kernels (k // 2 per dim)."""
    return tuple(k // 2 for k in kernel)  # type: ignore[return-value]


class Unit3D(nn.Sequential):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU, symmetric padding ``k // 2``."""

    def __init__(self, cin: int, cout: int, kernel: _Triple = (1, 1, 1), stride: _Triple = (1, 1, 1)) -> None:
        super().__init__(
            nn.Conv3d(cin, cout, kernel, stride=stride, padding=_same_padding(kernel), bias=False),
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
        )


class InceptionBlock3D(nn.Module):
    """Inflated Inception module: four parallel branches concatenated on channels.

    ``out = [1x1 (c0) | 1x1 (c1a) -> 3x3x3 (c1b) | 1x1 (c2a) -> 3x3x3 (c2b) |
    maxpool 3x3x3/1 -> 1x1 (c3)]``; keeps (t, h, w); output channels ``c0 + c1b + c2b + c3``.
    """

    def __init__(self, cin: int, channels: Sequence[int]) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = channels
        self.branch0 = Unit3D(cin, c0)
        self.branch1 = nn.Sequential(Unit3D(cin, c1a), Unit3D(c1a, c1b, (3, 3, 3)))
        self.branch2 = nn.Sequential(Unit3D(cin, c2a), Unit3D(c2a, c2b, (3, 3, 3)))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), Unit3D(cin, c3))
        self.out_channels = c0 + c1b + c2b + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, cin, t, h, w) -> (B, out_channels, t, h, w)."""
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


# (name, (c0, c1a, c1b, c2a, c2b, c3)) from the Inception-v1 / I3D layer table.
_INCEPTION_3 = [("mixed_3b", (64, 96, 128, 16, 32, 32)), ("mixed_3c", (128, 128, 192, 32, 96, 64))]
_INCEPTION_4 = [
    ("mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", (256, 160, 320, 32, 128, 128)),
]
_INCEPTION_5 = [("mixed_5b", (256, 160, 320, 32, 128, 128)), ("mixed_5c", (384, 192, 384, 48, 128, 128))]


class I3D(nn.Module):
    """Inception-v1 I3D trunk: ``(B, in_channels, T, H, W) -> (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32))``."""

    feature_dim = 1024

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        layers: dict[str, nn.Module] = {
            "conv_1a": Unit3D(in_channels, 64, (7, 7, 7), stride=(2, 2, 2)),  # T/2, H/2
            "pool_2a": nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),  # H/4
            "conv_2b": Unit3D(64, 64),
            "conv_2c": Unit3D(64, 192, (3, 3, 3)),
            "pool_3a": nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),  # H/8
        }
        cin = 192
        for stage, pool_name, pool in [
            (_INCEPTION_3, "pool_4a", nn.MaxPool3d(3, stride=2, padding=1)),  # T/4, H/16
            (_INCEPTION_4, "pool_5a", nn.MaxPool3d(2, stride=2, ceil_mode=True)),  # T/8, H/32
            (_INCEPTION_5, None, None),
        ]:
            for name, channels in stage:
                block = InceptionBlock3D(cin, channels)
                layers[name] = block
                cin = block.out_channels
            if pool_name is not None:
                layers[pool_name] = pool
        assert cin == self.feature_dim
        # Named children give readable keys: features.conv_1a.0.weight, features.mixed_5c...
        self.features = nn.Sequential(OrderedDict(layers))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T, H, W) -> (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32))."""
        return self.features(x)


@register_backbone("i3d")
def i3d(*, in_channels: int = 3) -> I3D:
    """Inception-v1 I3D trunk; feature_dim 1024."""
    return I3D(in_channels=in_channels)
