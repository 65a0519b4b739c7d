"""Weight initialisation shared by the backbones written here (c3d, i3d, r3d_tiny).

Our default (the torchvision / timm convention for ReLU conv nets):

* Conv: ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, bias 0;
* BatchNorm: weight 1, bias 0;
* Linear layers are left to the heads (see :mod:`tbe_lib.models.heads`).

The paper's code (``utils/load_weights.py:33-50``, original-code.md §2) instead uses
``xavier_uniform_(gain=sqrt(2))`` on every conv and ``N(1, 0.02)`` for BN weights, and
keeps PyTorch's default Linear init. Both are variance-preserving for ReLU nets: xavier
with gain sqrt(2) gives Var(w) = 4 / (fan_in + fan_out), kaiming fan_out gives
2 / fan_out; for the equal-width convs that dominate these nets (fan_in ~ fan_out) the
two agree up to uniform-vs-normal sampling. The random BN scale N(1, 0.02) is a small
jitter we do not reproduce (BN weight exactly 1). For comparison runs call
``init_weights(model.backbone, "paper")`` after building; it is deliberately not a
backbone keyword, so it does not change the recorded architecture.
The torchvision backbones (r3d_18, r2plus1d_18, s3d) keep torchvision's own init, which
is the kaiming/BN=1 scheme above.
"""

from __future__ import annotations

import math

import torch.nn as nn

__all__ = ["init_weights"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def init_weights(module: nn.Module, init: str = "kaiming") -> None:
    """Initialise every conv and BN layer inside ``module`` in place.

    ``init="kaiming"`` (default) or ``"paper"`` (xavier_uniform gain sqrt(2), BN weight
    N(1, 0.02), as in the authors' code)."""
    if init not in ("kaiming", "paper"):
        raise ValueError(f"init must be 'kaiming' or 'paper', got {init!r}")
    for m in module.modules():
        if isinstance(m, _CONVS):
            if init == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight, gain=math.sqrt(2.0))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) and m.affine:
            if init == "kaiming":
                nn.init.ones_(m.weight)
            else:
                nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
