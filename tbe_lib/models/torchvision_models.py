"""torchvision's video models as backbones (``weights=None``: nothing is downloaded).

Each wrapper keeps torchvision's own submodule names (``stem``, ``layer1``.. for the
ResNets, ``features`` for S3D), so trunk keys match a torchvision state dict minus its
classifier, and drops ``avgpool``/``fc``/``classifier`` so ``forward`` returns the map.

* ``r3d_18``:      R3D-18 (Tran et al. 2018), 512-d, (B,3,T,H,W) -> (B,512,T/8,H/16,W/16)
* ``r2plus1d_18``: R(2+1)D-18 (Tran et al. 2018), 512-d, same strides as r3d_18
* ``s3d``:         S3D (Xie et al. 2018), 1024-d, (B,3,T,H,W) -> (B,1024,T/8,H/32,W/32);
  needs T >= 8 and H, W >= 32 (and more than one value per BN channel when training,
  i.e. batch >= 2 at 8x32x32).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torchvision.models import video as tv_video

from .registry import register_backbone

__all__ = ["VideoResNetTrunk", "S3DTrunk", "r3d_18", "r2plus1d_18", "s3d"]


class VideoResNetTrunk(nn.Module):
    """torchvision ``VideoResNet`` without ``avgpool``/``fc``: (B,3,T,H,W) -> (B,512,T/8,H/16,W/16)."""

    feature_dim = 512

    def __init__(self, net: tv_video.VideoResNet) -> None:
        super().__init__()
        self.stem = net.stem
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, 64, T, H/2, W/2)
        x = self.layer2(self.layer1(x))  # (B, 128, T/2, H/4, W/4)
        return self.layer4(self.layer3(x))  # (B, 512, T/8, H/16, W/16)


class S3DTrunk(nn.Module):
    """torchvision ``S3D`` without ``avgpool``/``classifier``: (B,3,T,H,W) -> (B,1024,T/8,H/32,W/32)."""

    feature_dim = 1024

    def __init__(self, net: tv_video.S3D) -> None:
        super().__init__()
        self.features = net.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_backbone("r3d_18")
def r3d_18() -> VideoResNetTrunk:
    """torchvision R3D-18 trunk, random init; feature_dim 512."""
    return VideoResNetTrunk(tv_video.r3d_18(weights=None))


@register_backbone("r2plus1d_18")
def r2plus1d_18() -> VideoResNetTrunk:
    """torchvision R(2+1)D-18 trunk, random init; feature_dim 512."""
    return VideoResNetTrunk(tv_video.r2plus1d_18(weights=None))


@register_backbone("s3d")
def s3d() -> S3DTrunk:
    """torchvision S3D trunk, random init; feature_dim 1024."""
    return S3DTrunk(tv_video.s3d(weights=None))
