"""Video backbones, heads, the model class and checkpoint loading.

Backbones (``build_backbone(name, **kw)``: ``(B, 3, T, H, W) -> (B, C, t, h, w)``,
``module.feature_dim == C``):

=============== ============ ====================================================================
name            feature_dim  origin
=============== ============ ====================================================================
``c3d``         512          C3D (Tran et al. 2015) with BatchNorm, written here (the paper's
                             retrieval backbone); output stride (8, 16, 16); 27.7 M params
``i3d``         1024         Inception-v1 I3D (Carreira & Zisserman 2017), written here (the
                             paper's main backbone); symmetric padding, works at 112 and 224;
                             output ceil(T/8, H/32, W/32); 12.3 M params
``r3d_18``      512          torchvision ``r3d_18(weights=None)`` without avgpool/fc; 33.2 M
``r2plus1d_18`` 512          torchvision ``r2plus1d_18(weights=None)`` without avgpool/fc; 31.3 M
``s3d``         1024         torchvision ``s3d(weights=None)`` without avgpool/classifier; 7.9 M
``r3d_tiny``    widths[-1]   small configurable 3-D ResNet written here for CPU runs and tests
                (128)        (not in the paper); 0.9 M params with the defaults
=============== ============ ====================================================================

Models: ``build_model(name, head="projection" | "classifier" | None, ...)`` returns a
:class:`VideoModel` whose ``arch`` dict is stored in checkpoints. Weights:
``checkpoint_dict`` / ``load_weights`` / ``model_from_checkpoint`` (no weights are ever
downloaded). New backbones register with ``@register_backbone("name")``.
"""

from . import c3d as _c3d  # noqa: F401  (imports register the backbones)
from . import i3d as _i3d  # noqa: F401
from . import r3d_tiny as _r3d_tiny  # noqa: F401
from . import torchvision_models as _torchvision_models  # noqa: F401
from .heads import ClassifierHead, ProjectionHead, global_pool
from .initialization import init_weights
from .model import VideoModel, build_model
from .registry import build_backbone, list_backbones, register_backbone
from .weights import LoadReport, checkpoint_dict, load_weights, model_from_checkpoint, unwrap_model

__all__ = [
    "build_backbone",
    "list_backbones",
    "register_backbone",
    "ProjectionHead",
    "ClassifierHead",
    "global_pool",
    "VideoModel",
    "build_model",
    "init_weights",
    "LoadReport",
    "checkpoint_dict",
    "load_weights",
    "model_from_checkpoint",
    "unwrap_model",
]
