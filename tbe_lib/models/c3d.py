"""C3D (Tran et al., ICCV 2015) with BatchNorm after every conv, as used by the paper's
retrieval experiments (original-code.md §2: ``model/c3d.py``, 512-d features).

Trunk only: conv1 .. conv5b and pool1 .. pool4. The paper code's pool5 is a global
average pool that lives in our heads, so the output is the conv5b map.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .initialization import init_weights
from .registry import register_backbone

__all__ = ["C3D", "c3d"]


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3x3 conv (stride 1, padding 1, no bias) -> BN -> ReLU; keeps (t, h, w)."""
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel_size=3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)
    )


class C3D(nn.Module):
    """C3D-BN trunk: ``(B, in_channels, T, H, W) -> (B, 512, T/8, H/16, W/16)``.

    Layer plan (channels; pooling kernel = stride): conv1 64, pool1 (1,2,2); conv2 128,
    pool2 (2,2,2); conv3a/b 256, pool3 (2,2,2); conv4a/b 512, pool4 (2,2,2); conv5a/b 512.
    Sizes are floor-divided, so T >= 8 and H, W >= 16 are needed (16x112x112 -> 2x7x7,
    8x32x32 -> 1x2x2). 27.7 M parameters (vs 78 M for the original C3D, whose fc6/fc7
    are not part of the trunk).
    """

    feature_dim = 512

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(in_channels, 64)
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.conv2 = _conv_bn_relu(64, 128)
        self.pool2 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv3 = nn.Sequential(_conv_bn_relu(128, 256), _conv_bn_relu(256, 256))
        self.pool3 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv4 = nn.Sequential(_conv_bn_relu(256, 512), _conv_bn_relu(512, 512))
        self.pool4 = nn.MaxPool3d(kernel_size=2, stride=2)
        self.conv5 = nn.Sequential(_conv_bn_relu(512, 512), _conv_bn_relu(512, 512))
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T, H, W) -> (B, 512, T/8, H/16, W/16)."""
        x = self.pool1(self.conv1(x))  # (B, 64, T, H/2, W/2)
        x = self.pool2(self.conv2(x))  # (B, 128, T/2, H/4, W/4)
        x = self.pool3(self.conv3(x))  # (B, 256, T/4, H/8, W/8)
        x = self.pool4(self.conv4(x))  # (B, 512, T/8, H/16, W/16)
        return self.conv5(x)  # (B, 512, T/8, H/16, W/16)


@register_backbone("c3d")
def c3d(*, in_channels: int = 3) -> C3D:
    """C3D with BatchNorm; feature_dim 512."""
    return C3D(in_channels=in_channels)
