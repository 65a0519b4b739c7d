"""The pretraining methods: one module each, registered by name (see :mod:`.base`).

=============  =========================================  ==========================================
method         views (query / key / negative)             loss
=============  =========================================  ==========================================
``moco``       anchor / same frames, other augmentation   InfoNCE over [q·k, q·queue (, q·n)]
               (/ a clip of another video: the paper's
               "MoCo baseline" extra negative, optional)
``be``         BE(anchor) / same frames, clean            InfoNCE as ``moco``; n = a temporally
               (/ another time of the same video)         different clip of the same video (option)
``be_triplet`` BE(anchor) / same frames / other time      TripletMargin(q,k,n) + TripletMargin(q,k,
                                                          flip_batch(n)), margin 0.5, online encoder
``pretext``    anchor                                     CE(transformation) + w·MSE(f(x), f(BE(x)))
``moco_paper`` ``moco`` with its extra negative always on (the paper's "MoCo baseline", exactly)
``be_paper``   ``be`` with its intra-video negative always on (the paper's BE, exactly)
``fame``       FAME(anchor): its moving foreground on     InfoNCE as ``moco`` (Ding et al., CVPR 2022)
               another clip's background / same frames
``be_other``   ``be`` with an other-video extra negative   (the decomposition of the paper's recipe)
``arrow_of_time`` anchor played forward or backward       CE(direction): a control on real data
``oracle_swap`` ground-truth actor on another video's     InfoNCE as ``moco``: the perfect-mask control
               clip / same frames                         (embedded benchmark only)
``pan_direction`` anchor under a synthetic camera pan     CE(direction of the pan): the positive control
``frame_order`` anchor, frames in order or shuffled       CE(shuffled?)
``time_reversal`` anchor / same frames / anchor reversed  InfoNCE as ``moco``, the reversal as negative
=============  =========================================  ==========================================

The training engine (:mod:`tbe_lib.train`) is the same for all of them. See
``shared/reference/original-code.md`` §1 for what the paper's code does; each module says
where it differs.
"""

from __future__ import annotations

import importlib
import pkgutil

from . import be, be_triplet, moco, pretext  # noqa: F401  (the paper's four first: the order of tables and --method)
from .base import METHODS, ROW_SPECS, Method, MethodConfig, MethodSpec, build_method, get_method, register_method

# Every other module of this package registers its method when imported: a new method is a new file.
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in ("base", "be", "be_triplet", "moco", "pretext"):
        importlib.import_module(f"{__name__}.{_mod.name}")

from .be import BEMethod  # noqa: E402  (the classes, for direct use)
from .be_triplet import TripletMethod  # noqa: E402
from .moco import MoCoMethod  # noqa: E402
from .pretext import PretextMethod, apply_transform  # noqa: E402

__all__ = [
    "METHODS",
    "ROW_SPECS",
    "Method",
    "MethodConfig",
    "MethodSpec",
    "build_method",
    "get_method",
    "register_method",
    "MoCoMethod",
    "BEMethod",
    "TripletMethod",
    "PretextMethod",
    "apply_transform",
]
