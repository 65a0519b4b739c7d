"""Class activation maps of video models, and how much of them falls on the actor.

Three maps, all computed on the backbone's last convolutional map ``A`` of shape
``(B, C, t, h, w)`` (the tensor the head pools), then upsampled to the clip:

* ``"gradcam"`` (Selvaraju et al. 2017): ``ReLU(sum_c a_c A_c)`` with ``a_c`` the
  spatio-temporal mean of ``d logit_k / d A_c``. Computed by the maintained
  ``grad-cam`` package (``pytorch_grad_cam.GradCAM``, hooks + backward); works for any
  head and any target layer.
* ``"cam"`` (Zhou et al. 2016): ``sum_c W[k, c] A_c`` with ``W`` the classifier's linear
  weight. This is what the paper author's separate visualisation repo did
  (FingerRec/3DNet_Visualization; original-code.md §5). With our ``ClassifierHead``
  (global average pool -> dropout -> linear), Grad-CAM's weights are exactly
  ``W[k, c] / (t h w)``, so the two maps agree after ReLU and normalisation
  (``tests/test_cam.py`` checks it).
* ``"activation"``: the channel mean of ``A``, no class (the label-free mode of the same
  repo); it also works for self-supervised checkpoints without a classifier.

Conventions (all methods):

* Upsampling: trilinear, ``align_corners=False`` (the geometry of a strided conv grid),
  from ``(t, h, w)`` to the clip's ``(T, H, W)`` on the model's device.
* Normalisation per clip (``normalize=``): ``"max"`` (default) clips negatives to zero
  (before upsampling) and divides by the clip's maximum, so 0 keeps meaning "no evidence", shares of activation
  mass are meaningful and a flat map stays flat (its :func:`actor_mass` is the actor's area
  share, the chance level); ``"minmax"`` maps the clip's minimum to 0 and maximum to 1 (the
  ``grad-cam`` package's and the original CAM repo's convention; more contrast, but the
  mass shares then depend on the offset). A map without any positive value is all zeros.

The measure: :func:`actor_mass` = share of the map's mass on the actor's pixels,
:func:`actor_area_share` = what a uniform map would give, :func:`actor_mass_ratio` = their
quotient (1 = no preference for the actor; > 1 = the model looks at the actor).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from tbe_lib.models import ClassifierHead, unwrap_model

__all__ = [
    "METHODS",
    "NORMALIZATIONS",
    "CamResult",
    "target_layer",
    "classifier_layer",
    "upsample_maps",
    "normalize_maps",
    "compute_cam",
    "actor_mass",
    "actor_area_share",
    "actor_mass_ratio",
]

METHODS = ("gradcam", "cam", "activation")
_NO_HEAD = object()  # a model without a ``head`` attribute (a custom classifier) for Grad-CAM
NORMALIZATIONS = ("max", "minmax")


@dataclass
class CamResult:
    """Output of :func:`compute_cam` (tensors on the device of the input clips).

    * ``maps``: (B, T, H, W) float32 in [0, 1], normalised per clip.
    * ``classes``: (B,) long, the class each map explains (the requested one, else the
      predicted one); -1 where the model has no classifier (``method="activation"``).
    * ``probs``: (B, K) softmax of the model's logits, or ``None`` without a classifier.
    * ``method``, ``normalize``: how the maps were made.
    """

    maps: Tensor
    classes: Tensor
    probs: Tensor | None
    method: str
    normalize: str


def target_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the last convolutional map: ``model.backbone``.

    Every registered backbone (c3d, i3d, r3d_18, r2plus1d_18, s3d, r3d_tiny) returns its
    last conv block's map ``(B, C, t, h, w)`` and the head only pools it, so hooking the
    backbone is the same as hooking that block, whatever the architecture. DDP /
    ``torch.compile`` wrappers are looked through."""
    net = unwrap_model(model)
    chosen = getattr(net, "cam_layer", None)  # set by :func:`set_cam_layer`
    if isinstance(chosen, nn.Module):
        return chosen
    backbone = getattr(net, "backbone", None)
    if not isinstance(backbone, nn.Module):
        raise TypeError(
            f"target_layer: {type(net).__name__} has no `backbone` module; pass the layer to hook "
            "explicitly (compute_cam(..., layer=model.some_block))"
        )
    return backbone


@torch.no_grad()
def set_cam_layer(model: nn.Module, clip_shape: Sequence[int], min_size: int = 4) -> nn.Module:
    """Make Grad-CAM hook the deepest stage of the backbone whose map is at least
    ``min_size`` pixels on each side for clips of shape ``clip_shape`` (C, T, H, W).

    Small backbones on small clips (r3d_tiny at 32x32 ends in a 1x1 map) leave no spatial
    detail in the last map; an earlier stage keeps some (Grad-CAM is defined for any conv
    layer). Backbones with a ``stages`` sequence (r3d_tiny) are searched stage by stage;
    others keep the whole backbone. Stores the choice as ``model.cam_layer`` (used by
    :func:`target_layer`, hence by :func:`compute_cam`, the viewer and ``static_views``)."""
    net = unwrap_model(model)
    backbone = net.backbone
    stages = list(getattr(backbone, "stages", []))
    if not stages:
        net.cam_layer = backbone
        return backbone
    sizes: list[tuple[int, int]] = []
    hooks = [st.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[-2:]))) for st in stages]
    was_training = net.training
    net.eval()
    try:
        p = next(net.parameters())
        backbone(torch.zeros(1, *clip_shape, device=p.device, dtype=p.dtype))
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
    ok = [i for i, (h, w) in enumerate(sizes) if min(h, w) >= min_size]
    layer = stages[ok[-1]] if ok else stages[0]
    net.cam_layer = layer
    return layer


def classifier_layer(model: nn.Module) -> nn.Linear | None:
    """The linear layer of a ``ClassifierHead`` (``model.head.fc``), or ``None``."""
    head = getattr(unwrap_model(model), "head", None)
    return head.fc if isinstance(head, ClassifierHead) else None


def upsample_maps(maps: Tensor, size: Sequence[int]) -> Tensor:
    """(B, t, h, w) -> (B, T, H, W), trilinear with ``align_corners=False``."""
    if maps.dim() != 4:
        raise ValueError(f"upsample_maps: expected (B, t, h, w) maps, got shape {tuple(maps.shape)}")
    size = tuple(int(s) for s in size)
    if tuple(maps.shape[1:]) == size:
        return maps
    return F.interpolate(maps[:, None].float(), size=size, mode="trilinear", align_corners=False)[:, 0]


def normalize_maps(maps: Tensor, mode: str = "max") -> Tensor:
    """Per-clip normalisation of (B, ...) maps to [0, 1]; see the module docstring."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {mode!r}")
    flat = maps.float().flatten(1)  # (B, N)
    if mode == "max":
        flat = flat.clamp_min(0)
        scale = flat.amax(dim=1, keepdim=True)
    else:
        flat = flat - flat.amin(dim=1, keepdim=True)
        scale = flat.amax(dim=1, keepdim=True)
    out = torch.where(scale > 0, flat / scale.clamp_min(torch.finfo(flat.dtype).tiny), torch.zeros_like(flat))
    return out.clamp_(0, 1).view_as(maps)


def _as_classes(
    target_class: int | Sequence[int] | Tensor | None, batch: int, num_classes: int | None
) -> list[int] | None:
    """``None`` -> None (predicted); an int -> the same class for every clip; (B,) -> per clip."""
    if target_class is None:
        return None
    classes = torch.as_tensor(target_class).flatten().tolist()
    if len(classes) == 1:
        classes = classes * batch
    if len(classes) != batch:
        raise ValueError(f"target_class: got {len(classes)} classes for a batch of {batch} clips (give one or B)")
    if num_classes is not None and any(not 0 <= int(k) < num_classes for k in classes):
        raise ValueError(f"target_class {classes} out of range for a classifier with {num_classes} classes")
    return [int(k) for k in classes]


@functools.lru_cache(maxsize=None)
def _gradcam_class() -> type:
    """``pytorch_grad_cam.GradCAM`` stopped at the target layer's resolution (imported
    lazily: grad-cam is an optional dependency, ``pip install 'grad-cam>=1.5.4'``).

    The package does the hooks, the backward pass and the channel weights. We override two
    small hooks because, for 5-D input, grad-cam 1.5.7 upsamples each clip on the CPU with
    ``scipy.ndimage.zoom`` (cubic spline, corners aligned; ~2 s for one 16x112x112 clip on
    a CPU core) and then min-max normalises, which drops the zero of the ReLU'd map. We keep
    its raw map and upsample/normalise in torch (:func:`upsample_maps`,
    :func:`normalize_maps`), on the model's device, like the other methods."""
    try:
        from pytorch_grad_cam import GradCAM
    except ImportError as e:
        raise ImportError(
            "method='gradcam' needs the grad-cam package: pip install 'grad-cam>=1.5.4' (or the project's [book] extra)"
        ) from e

    class GradCAMLowRes(GradCAM):
        raw_maps: list[np.ndarray]

        def get_target_width_height(self, input_tensor: Tensor) -> None:  # type: ignore[override]
            return None  # the package's scale_cam_image(cam, None) then only normalises

        def get_cam_image(self, *args: Any, **kwargs: Any) -> np.ndarray:
            cam = super().get_cam_image(*args, **kwargs)  # (B, t, h, w): sum_c a_c A_c, before ReLU
            self.raw_maps.append(cam)
            return cam

    return GradCAMLowRes


def _gradcam_lowres(model: nn.Module, x: Tensor, classes: list[int] | None, layer: nn.Module) -> tuple[Tensor, Tensor]:
    """Grad-CAM ``ReLU(sum_c a_c A_c)`` at the layer's resolution (B, t, h, w) and the logits (B, K)."""
    # The input requires grad so that a frozen backbone (linear probe) still gets gradients at
    # the target layer; enable_grad so that it also works inside torch.no_grad().
    x = x.detach().requires_grad_(True)
    gradcam = _gradcam_class()
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = None if classes is None else [ClassifierOutputTarget(k) for k in classes]
    with torch.enable_grad(), gradcam(model=model, target_layers=[layer]) as cam:
        cam.raw_maps = []
        cam(input_tensor=x, targets=targets)
        if len(cam.raw_maps) != 1:
            raise RuntimeError(
                f"Grad-CAM: the target layer {type(layer).__name__} ran {len(cam.raw_maps)} times in one forward"
            )
        low = torch.from_numpy(cam.raw_maps[0]).to(x.device)  # (B, t, h, w)
        logits = cam.outputs.detach()
    if low.dim() != 4:
        raise ValueError(
            f"Grad-CAM: the target layer's output must be (B, C, t, h, w), got a map of shape {tuple(low.shape)}"
        )
    return low.clamp_min(0), logits


@torch.no_grad()
def _cam_lowres(
    model: nn.Module, x: Tensor, classes: list[int] | None, method: str
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Plain CAM or channel-mean map (B, t, h, w), the logits (or None) and the classes used."""
    net = unwrap_model(model)
    fc = classifier_layer(net)
    fmap = net.feature_map(x)  # (B, C, t, h, w)
    logits = net.head(fmap) if fc is not None else None  # (B, K); eval mode: dropout is identity
    if classes is None:
        classes_t = (
            logits.argmax(1) if logits is not None else torch.full((x.shape[0],), -1, dtype=torch.long, device=x.device)
        )
    else:
        classes_t = torch.as_tensor(classes, dtype=torch.long, device=x.device)
    if method == "activation":
        return fmap.mean(dim=1), logits, classes_t
    weights = fc.weight[classes_t]  # (B, C): the chosen class's row of the classifier
    return torch.einsum("bc,bcthw->bthw", weights, fmap), logits, classes_t


def compute_cam(
    model: nn.Module,
    clips: Tensor,
    target_class: int | Sequence[int] | Tensor | None = None,
    *,
    method: str = "gradcam",
    normalize: str = "max",
    layer: nn.Module | None = None,
    size: Sequence[int] | None = None,
) -> CamResult:
    """Activation maps of ``model`` for ``clips``, upsampled to the clips and normalised per clip.

    Args:
        model: a :class:`~tbe_lib.models.VideoModel` (or any module whose ``layer`` yields a
            ``(B, C, t, h, w)`` map). Runs on the model's device; the model is put in eval
            mode for the computation and its train/eval mode restored afterwards. Grad-CAM
            runs a backward pass: parameter ``.grad`` are cleared (set to ``None``).
        clips: (B, 3, T, H, W) model input (already normalised as in training), any device.
        target_class: ``None`` = the predicted class of each clip; an int = that class for
            all clips; a sequence / (B,) tensor = one class per clip. Ignored by
            ``method="activation"``.
        method: ``"gradcam"`` (any head), ``"cam"`` (needs a ``ClassifierHead``) or
            ``"activation"`` (no class); see the module docstring.
        normalize: ``"max"`` or ``"minmax"`` (per clip).
        layer: module to hook for Grad-CAM (default :func:`target_layer`, the backbone).
            CAM and the channel mean always use the backbone map.
        size: output (T, H, W); default the clips' own.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    if clips.dim() != 5:
        raise ValueError(f"compute_cam: expected clips (B, C, T, H, W), got shape {tuple(clips.shape)}")
    fc = classifier_layer(model)
    if method == "cam" and fc is None:
        raise ValueError(
            "method='cam' needs a model with a ClassifierHead (global pool -> linear); "
            "use method='gradcam', or 'activation' for a model without a classifier"
        )
    head = getattr(unwrap_model(model), "head", _NO_HEAD)
    if method == "gradcam" and fc is None and head is not _NO_HEAD:
        raise ValueError(
            f"method='gradcam' needs class scores, but this model's head is {type(head).__name__} (e.g. a "
            "self-supervised checkpoint): finetune or linear-probe it first, or use method='activation'"
        )
    out_device = clips.device
    param = next(model.parameters(), None)
    device = clips.device if param is None else param.device
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x = clips.to(device=device, dtype=dtype)  # (B, 3, T, H, W)
    size = tuple(x.shape[2:]) if size is None else tuple(int(s) for s in size)
    classes = _as_classes(target_class, x.shape[0], fc.out_features if fc is not None else None)

    was_training = model.training
    model.eval()
    try:
        if method == "gradcam":
            low, logits = _gradcam_lowres(model, x, classes, layer if layer is not None else target_layer(model))
            model.zero_grad(set_to_none=True)
            classes_t = logits.argmax(1) if classes is None else torch.as_tensor(classes, device=logits.device)
        else:
            low, logits, classes_t = _cam_lowres(
                model, x, None if method == "activation" and fc is None else classes, method
            )
    finally:
        model.train(was_training)
    if normalize == "max":
        low = low.clamp_min(0)  # ReLU before upsampling, so negative values do not bleed into positive ones
    maps = normalize_maps(upsample_maps(low.float(), size), normalize)  # (B, T, H, W)
    probs = None if logits is None else logits.float().softmax(dim=1).to(out_device)
    return CamResult(
        maps=maps.to(out_device),
        classes=classes_t.long().to(out_device),
        probs=probs,
        method=method,
        normalize=normalize,
    )


# --------------------------------------------------------------------------------------
# The measure


def _check_pair(maps: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    maps = torch.as_tensor(maps)
    masks = torch.as_tensor(masks, device=maps.device)
    if maps.dim() != 4 or masks.shape != maps.shape:
        raise ValueError(
            f"actor_mass: maps and actor masks must both be (B, T, H, W) of the same shape, got maps "
            f"{tuple(maps.shape)} and masks {tuple(masks.shape)} (compute the maps at the masks' size: "
            "compute_cam(..., size=masks.shape[1:]))"
        )
    return maps.float(), masks.bool()


def actor_area_share(masks: Tensor) -> Tensor:
    """(B, T, H, W) bool -> (B,): the actor's share of the clip's pixels (the chance level:
    the :func:`actor_mass` of a uniform map)."""
    masks = torch.as_tensor(masks)
    if masks.dim() != 4:
        raise ValueError(f"actor_area_share: expected (B, T, H, W) masks, got shape {tuple(masks.shape)}")
    return masks.bool().flatten(1).float().mean(dim=1)


def actor_mass(maps: Tensor, masks: Tensor) -> Tensor:
    """(B, T, H, W) maps >= 0 and bool actor masks -> (B,): ``sum(map * mask) / sum(map)``,
    the share of each clip's activation mass that lies on the actor (over all frames).

    NaN for a clip whose map is all zero. Compare with :func:`actor_area_share`."""
    maps, masks = _check_pair(maps, masks)
    if (maps < 0).any():
        raise ValueError("actor_mass: maps must be non-negative (use compute_cam's normalised maps)")
    flat = maps.flatten(1)
    return (flat * masks.flatten(1)).sum(dim=1) / flat.sum(dim=1)


def actor_mass_ratio(maps: Tensor, masks: Tensor) -> Tensor:
    """(B,): :func:`actor_mass` / :func:`actor_area_share`; 1 = no preference for the actor,
    > 1 = the map concentrates on it. NaN for an all-zero map or an empty mask."""
    maps, masks = _check_pair(maps, masks)
    return actor_mass(maps, masks) / actor_area_share(masks)
