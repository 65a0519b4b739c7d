"""Spatial and colour augmentation of whole batches of clips, on the batch's device.

The loader's workers only decode; the random resized crop, flip, colour jitter, grayscale
and normalisation run here on ``(B, C, T, H, W)`` uint8 batches, on the training device.
Every random parameter is drawn **per clip** and shared by all frames of that clip
(the same crop, flip and colours on every frame); different clips get independent ones.
Nothing loops over frames in Python, and over clips only where it pays: on GPU the
crop+resize is one ``torchvision.ops.roi_align`` call with one box per clip over the ``C*T``
channels (on CPU a per-clip uint8 resize is faster, see :func:`resized_crop`); the colour
ops broadcast per-clip factors of shape ``(B, 1, 1, 1, 1)``, with a fixed 4x4 loop over
(slot, op) for the random order.

Differences from the paper's pipeline (``original-code.md`` §3.5), on purpose:

* The paper's ``ColorJitter`` applies each op to the *original* image, so only the last of
  its four shuffled ops survives (§7.3 item 25). Here brightness, contrast, saturation and
  hue are all applied, in a random order drawn per clip (as ``torchvision``'s ColorJitter).
* The paper uses rotation + resize + fixed-size random crop, no flip, no grayscale. The
  defaults here are the usual contrastive-learning ones (random resized crop with scale
  ``(0.2, 1)``, flip, jitter with probability 0.8, grayscale 0.2); all are parameters.
* Crops are resampled with ``roi_align`` on GPU (bilinear, averaging ``ceil(crop / out)``
  samples per output pixel in each direction, which antialiases downscaling like a box
  filter), and on CPU with torchvision's antialiased uint8 resize, one call per clip (its
  SIMD kernel is several times faster there; see :func:`resized_crop`).

Mixed sizes. Real datasets mix frame sizes and aspect ratios. The loader collates such a
batch into one uint8 tensor padded to the largest height and width (each clip in the top-left
corner, its last row and column repeated into the margin) and returns each clip's valid
``(H, W)`` as ``sizes`` (:func:`tbe_lib.data.dataset.collate_clips`). :class:`VideoAugment`
and :class:`VideoEval` take those ``sizes``: crop boxes are drawn per clip inside its own
valid region (area fraction and aspect ratio relative to that clip, as for a batch of one),
so one batched crop+resize still serves the whole batch, and the padding is never sampled
(``roi_align``'s border samples see the repeated edge, i.e. the same values as the clamp of
an unpadded clip). For a batch whose clips all have one size the random draws, their order
and the kernels are those of a same-size batch without ``sizes``: bit-identical results.

Host-device synchronisation. On CUDA the default path (roi_align crop, fused colour) issues
no synchronising call per batch: random parameters and constants made on the CPU are copied
through pinned memory without blocking, and no result is read back (no ``.tolist()``,
``nonzero`` or ``bool(tensor)``). ``sizes`` should stay on the CPU (as the loader gives
them). The ``color="exact"`` path still selects clips with ``nonzero`` (16 small syncs).

:class:`VideoEval` is the test transform: resize the short side, centre crop, normalise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import roi_align
from torchvision.transforms.v2 import functional as TF

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VideoAugment",
    "VideoEval",
    "sample_crop_boxes",
    "resized_crop",
    "hflip",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_hue",
    "rgb_to_grayscale",
    "color_jitter",
    "fused_color_jitter",
    "normalize",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def _uniform(lo: float, hi: float, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
    """U[lo, hi) on the generator's device (CPU when None)."""
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=device) * (hi - lo) + lo


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device`` without blocking the host: a CPU tensor bound for a CUDA device goes
    through pinned memory with ``non_blocking=True`` (a plain ``.to`` from pageable memory
    synchronises the stream)."""
    device = torch.device(device)
    if t.device == device or device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _const(values: Sequence[float], dtype: torch.dtype, device: torch.device) -> Tensor:
    """A small constant tensor made on the CPU and copied to ``device`` without a sync."""
    return _to_device(torch.as_tensor(values, dtype=dtype), device)


def _size_column(v: int | Tensor, batch: int, device: torch.device) -> Tensor:
    """A size given for the whole batch (int) or per clip (``(B,)`` tensor) -> ``(B,)`` float64
    on ``device``."""
    t = torch.as_tensor(v, dtype=torch.float64) if not isinstance(v, Tensor) else v.to(torch.float64)
    t = _to_device(t, device)
    return t.expand(batch) if t.dim() == 0 else t.reshape(batch)


def _flat_sizes(sizes: Tensor | None, lead: tuple[int, ...], height: int, width: int) -> Tensor | None:
    """Check the valid sizes ``(*lead, 2)`` of padded clips ``(*lead, C, T, height, width)``
    and flatten them to ``(B, 2)`` int64 (``None`` stays ``None``: every clip is full size)."""
    if sizes is None:
        return None
    sizes = torch.as_tensor(sizes)
    if tuple(sizes.shape) != (*lead, 2):
        raise ValueError(
            f"sizes must have shape {(*lead, 2)} (the valid (H, W) of each clip), got {tuple(sizes.shape)}"
        )
    flat = sizes.reshape(-1, 2).long()
    if flat.device.type == "cpu":  # checked only where it costs no device sync
        bad = (flat < 1).any(dim=1) | (flat[:, 0] > height) | (flat[:, 1] > width)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"clip {i}: valid size {tuple(flat[i].tolist())} is outside its padded frame "
                f"({height}, {width}); sizes must be (H, W) with 1 <= H <= {height}, 1 <= W <= {width}"
            )
    return flat


def _to_float(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [0, 1]; floating inputs are taken as [0, 1] already."""
    if x.dtype == torch.uint8:
        return x.float().div_(255)
    if not x.is_floating_point():
        raise ValueError(f"expected uint8 or floating-point clips, got dtype {x.dtype}")
    return x.float()


def _as_batch(x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """(..., C, T, H, W) -> (B, C, T, H, W) and the leading shape to restore."""
    if not isinstance(x, Tensor) or x.dim() < 4:
        raise ValueError(
            "expected clips of shape (C, T, H, W), (B, C, T, H, W) or (B, V, C, T, H, W), got "
            f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
        )
    if x.shape[-4] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels in dim -4 (C, T, H, W), got shape {tuple(x.shape)}")
    lead = tuple(x.shape[:-4])
    return x.reshape(-1, *x.shape[-4:]), lead


# --------------------------------------------------------------------------------------
# Geometry


def sample_crop_boxes(
    batch: int,
    height: int | Tensor,
    width: int | Tensor,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    *,
    generator: torch.Generator | None = None,
    attempts: int = 10,
) -> Tensor:
    """Random resized crop boxes, one per clip, as torchvision's ``RandomResizedCrop``:
    area fraction ~ U(scale), log aspect ratio ~ U(log ratio), integer size and offset; the
    first of ``attempts`` candidates that fits, else a centre crop clamped to ``ratio``.

    ``height``/``width``: the frame size, one int for the whole batch or a ``(B,)`` tensor
    per clip (clips of several sizes: each box lies inside its own clip's ``H x W``; the
    random draws are the same whichever form is used).

    Returns float32 ``(B, 4)`` boxes ``(x0, y0, x1, y1)`` in pixels (``x1 - x0`` = crop width)
    on the generator's device."""
    device = generator.device if generator is not None else torch.device("cpu")
    hh, ww = _size_column(height, batch, device), _size_column(width, batch, device)  # (B,) float64
    H, W = hh.float(), ww.float()  # (B,) float32: exact for sizes < 2**24
    shape = (batch, attempts)
    target = (H * W)[:, None] * _uniform(scale[0], scale[1], shape, generator)  # (B, attempts)
    aspect = torch.exp(_uniform(math.log(ratio[0]), math.log(ratio[1]), shape, generator))
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    ok = (w > 0) & (w <= W[:, None]) & (h > 0) & (h <= H[:, None])
    first = ok.float().argmax(dim=1, keepdim=True)  # first fitting candidate
    w, h = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0]
    fits = ok.any(dim=1)
    # fallback: the whole image, cut to the nearest allowed aspect ratio, centred (float64 and
    # round-half-even, as Python's round on the sizes)
    lo, hi = min(ratio), max(ratio)
    in_ratio = ww / hh
    fw = torch.where(in_ratio > hi, torch.round(hh * hi), ww).float()
    fh = torch.where(in_ratio < lo, torch.round(ww / lo), hh).float()
    w = torch.where(fits, w, fw)
    h = torch.where(fits, h, fh)
    u = _uniform(0.0, 1.0, (batch, 2), generator)
    x0 = torch.where(fits, torch.floor(u[:, 0] * (W - w + 1)), torch.floor((W - w) / 2))
    y0 = torch.where(fits, torch.floor(u[:, 1] * (H - h + 1)), torch.floor((H - h) / 2))
    return torch.stack([x0, y0, x0 + w, y0 + h], dim=1)


def resized_crop(x: Tensor, boxes: Tensor, size: int | Sequence[int], *, method: str = "auto") -> Tensor:
    """Crop box ``boxes[b]`` (``(B, 4)`` pixels ``x0, y0, x1, y1``) of every frame of clip ``b``
    and resize it to ``size``: ``(B, C, T, H, W)`` -> float32 ``(B, C, T, h, w)``, in [0, 1]
    for uint8 input (else in the input's scale).

    ``method``: ``"roi_align"``, one vectorised ``roi_align`` call over the ``C*T`` channels
    (any device; averages ``ceil(crop / out)`` bilinear samples per output pixel and axis);
    ``"resize"``, a loop over clips calling torchvision's antialiased resize on the uint8
    crop (integer boxes only), whose SIMD uint8 kernel is ~4x faster on CPU than converting
    the whole batch to float for ``roi_align``; ``"auto"``: ``"resize"`` for uint8 CPU input,
    else ``"roi_align"``.

    Clips padded to a common size (the loader's mixed-size batches) need boxes inside each
    clip's valid region; ``"resize"`` then reads only that region, and ``roi_align``'s border
    samples read the edge-replicated margin, the values of its own border clamp."""
    b, c, t, hh, ww = x.shape
    oh, ow = _pair(size)
    if method == "auto":
        method = "resize" if (x.device.type == "cpu" and x.dtype == torch.uint8) else "roi_align"
    if method == "resize":
        out = []
        for (x0, y0, x1, y1), clip in zip(boxes.round().long().tolist(), x):  # loop over clips, not pixels
            crop = clip[:, :, y0:y1, x0:x1].transpose(0, 1)  # (T, C, h, w)
            if crop.dtype == torch.uint8:
                crop = crop.contiguous(memory_format=torch.channels_last)  # the fast uint8 kernel's layout
            out.append(TF.resize(crop, [oh, ow], antialias=True))
        y = torch.stack(out).transpose(1, 2)  # (B, C, T, oh, ow)
        return y.float().div_(255) if x.dtype == torch.uint8 else y.float()
    if method != "roi_align":
        raise ValueError(f"method must be 'auto', 'roi_align' or 'resize', got {method!r}")
    xf = x.float()
    rois = torch.cat([torch.arange(b, device=x.device, dtype=xf.dtype)[:, None], boxes.to(xf)], dim=1)  # (B, 5)
    # one ROI per clip over its C*T channels; aligned=True: pixel k covers [k, k+1)
    out_ = roi_align(xf.reshape(b, c * t, hh, ww), rois, (oh, ow), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    out_ = out_.reshape(b, c, t, oh, ow)
    return out_.div_(255) if x.dtype == torch.uint8 else out_


def hflip(x: Tensor, mask: Tensor) -> Tensor:
    """Flip clips ``b`` with ``mask[b]`` horizontally: ``(B, C, T, H, W)`` (a new tensor).

    On the CPU only the flipped clips are copied (``nonzero`` is free there); elsewhere one
    ``torch.where`` over the batch, which needs no host sync. Same values either way."""
    if x.device.type == "cpu":
        idx = mask.nonzero().squeeze(1)
        return x.index_copy(0, idx, x.index_select(0, idx).flip(-1))
    return torch.where(mask.to(x.device).view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


# --------------------------------------------------------------------------------------
# Colour (float clips in [0, 1], per-clip factors of shape (B,))


def _per_clip(f: Tensor | float, x: Tensor) -> Tensor:
    f = torch.as_tensor(f, dtype=x.dtype, device=x.device)
    return f.reshape(-1, *([1] * (x.dim() - 1))) if f.dim() else f


def rgb_to_grayscale(x: Tensor) -> Tensor:
    """Luma of ``(B, 3, T, H, W)`` -> ``(B, 1, T, H, W)``."""
    r, g, b = x.unbind(1)
    return (_GRAY_WEIGHTS[0] * r + _GRAY_WEIGHTS[1] * g + _GRAY_WEIGHTS[2] * b).unsqueeze(1)


def _blend(x: Tensor, other: Tensor, f: Tensor) -> Tensor:
    """``f * x + (1 - f) * other``, clamped to [0, 1] (one fused lerp)."""
    return torch.lerp(other.expand_as(x), x, f.expand_as(x) if f.dim() else f).clamp_(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor | float) -> Tensor:
    """Multiply by ``factor`` (per clip), clamp to [0, 1]."""
    return (x * _per_clip(factor, x)).clamp_(0, 1)


def adjust_contrast(x: Tensor, factor: Tensor | float) -> Tensor:
    """Blend each frame with its mean gray level (``factor`` 1: unchanged, 0: flat gray)."""
    mean = rgb_to_grayscale(x).mean(dim=(-2, -1), keepdim=True)  # (B, 1, T, 1, 1): per frame
    return _blend(x, mean, _per_clip(factor, x))


def adjust_saturation(x: Tensor, factor: Tensor | float) -> Tensor:
    """Blend with the grayscale image (``factor`` 1: unchanged, 0: gray)."""
    return _blend(x, rgb_to_grayscale(x), _per_clip(factor, x))


def adjust_hue(x: Tensor, shift: Tensor | float) -> Tensor:
    """Rotate the hue by ``shift`` turns (per clip, in [-0.5, 0.5]), keeping HSV saturation
    and value (same result as torchvision's HSV round trip, without building HSV tensors:
    with the hue ``h`` in sextants, channel ``n`` of ``(r, g, b) = (5, 3, 1)`` is
    ``max - (max - min) * clamp(min(k, 4 - k), 0, 1)`` with ``k = (n + h) mod 6``)."""
    r, g, b = x.unbind(1)
    maxc = x.amax(dim=1)  # amax/amin: no argmax indices (several times faster than max)
    delta = maxc - x.amin(dim=1)
    # hue in sextants times delta, then one division: r max -> g-b, g max -> 2d+b-r, b max -> 4d+r-g
    h = torch.where(
        maxc == r, g - b, torch.where(maxc == g, (b - r).add_(delta, alpha=2.0), (r - g).add_(delta, alpha=4.0))
    )
    h = h.div_(torch.where(delta > 0, delta, 1.0))
    h = h.add_(6.0 * _per_clip(shift, h)).remainder_(6.0)  # rotated hue in [0, 6)
    out = torch.empty_like(x)
    for c, n in enumerate((5.0, 3.0, 1.0)):  # r, g, b
        k = (h + n).remainder_(6.0)
        w = torch.minimum(k, 4.0 - k).clamp_(0, 1)
        torch.addcmul(maxc, w, delta, value=-1.0, out=out[:, c])  # max - delta * w
    return out


_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def color_jitter(
    x: Tensor, factors: Tensor, order: Tensor, apply: Tensor | None = None, *, inplace: bool = False
) -> Tensor:
    """Apply brightness, contrast, saturation and hue to each clip in its own order.

    ``factors``: ``(B, 4)`` (brightness, contrast, saturation, hue shift); ``order``: ``(B, 4)``
    a permutation of ``0..3`` per clip; ``apply``: ``(B,)`` bool, clips left unchanged where
    False. The loop runs over the 4 slots x 4 ops, never over clips. ``inplace`` writes
    into ``x``."""
    x = x if inplace else x.clone()
    apply = torch.ones(x.shape[0], dtype=torch.bool, device=x.device) if apply is None else apply
    for slot in range(4):
        for op_id, op in enumerate(_JITTER_OPS):
            idx = (apply & (order[:, slot] == op_id)).nonzero().squeeze(1)
            if idx.numel():
                x.index_copy_(0, idx, op(x.index_select(0, idx), factors[idx, op_id]))
    return x


_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


@lru_cache(maxsize=None)
def _yiq_pair(dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """``(YIQ, YIQ^-1)`` in ``dtype`` on the CPU, computed once (``linalg.inv`` on a CUDA
    tensor would sync to check for singularity)."""
    yiq = _YIQ.to(dtype)
    return yiq, torch.linalg.inv(yiq)


def _hue_matrices(shift: Tensor) -> Tensor:
    """(B,) hue shifts in turns -> (B, 3, 3) RGB matrices rotating the chroma plane of YIQ.

    A linear stand-in for the HSV hue rotation: it keeps the luma exactly and is periodic in
    the shift, but for saturated colours it differs from torchvision's HSV round trip (use
    ``color="exact"`` for that)."""
    yiq, yiq_inv = (_to_device(m, shift.device) for m in _yiq_pair(shift.dtype))
    cos, sin = torch.cos(2 * math.pi * shift), torch.sin(2 * math.pi * shift)
    rot = torch.zeros(shift.shape[0], 3, 3, dtype=shift.dtype, device=shift.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    return yiq_inv @ rot @ yiq


def fused_color_jitter(x: Tensor, factors: Tensor, order: Tensor, apply: Tensor | None = None) -> Tensor:
    """Brightness, contrast, saturation and hue in each clip's own order, as ONE affine map
    per clip and frame: ``out = clamp(M_b x + o_bt)`` with ``M`` (B, 3, 3), ``o`` (B, 3, T).

    All four ops are linear in RGB (hue as a YIQ chroma rotation, see :func:`_hue_matrices`;
    contrast blends with the frame's mean luma, which for a linear map of ``x`` is the same
    map of ``x``'s mean), so their composition is computed on 3x3 matrices and applied with
    a single pass over the pixels: several times faster on CPU than :func:`color_jitter`.
    It differs from the sequential ops in two ways: hue (above), and the clamp to [0, 1]
    happens once at the end instead of after each op. (As linear maps in this form the four
    ops commute: their random order only matters through the intermediate clamps of the
    exact path; it is kept so both paths take the same parameters.)"""
    B, _, T = x.shape[:3]
    dev, dt = x.device, x.dtype
    factors, order = _to_device(factors, dev).to(dt), _to_device(order, dev)
    apply = torch.ones(B, dtype=torch.bool, device=dev) if apply is None else _to_device(apply, dev)
    w = _const(_GRAY_WEIGHTS, dt, dev)  # luma weights (3,)
    eye = torch.eye(3, dtype=dt, device=dev).expand(B, 3, 3)
    gray_proj = torch.ones(3, 1, dtype=dt, device=dev) @ w.view(1, 3)  # x -> luma in every channel
    mean_rgb = x.mean(dim=(-2, -1))  # (B, 3, T)
    M = eye.clone()
    o = torch.zeros(B, 3, T, dtype=dt, device=dev)
    hue = _hue_matrices(factors[:, 3])
    for slot in range(4):
        op = order[:, slot]
        for op_id in range(4):
            sel = (op == op_id) & apply  # (B,); no skip when empty: reading it back would sync
            if op_id == 0:  # brightness: b x
                A = eye * factors[:, 0].view(B, 1, 1)
                a = torch.zeros_like(o)
            elif op_id == 1:  # contrast: c x + (1 - c) mean_luma(x)
                c = factors[:, 1].view(B, 1, 1)
                A = eye * c
                cur_mean = torch.einsum("bij,bjt->bit", M, mean_rgb) + o  # (B, 3, T) of the current image
                a = (1 - c) * torch.einsum("j,bjt->bt", w, cur_mean).unsqueeze(1).expand(B, 3, T)
            elif op_id == 2:  # saturation: s x + (1 - s) luma(x)
                sat = factors[:, 2].view(B, 1, 1)
                A = eye * sat + (1 - sat) * gray_proj
                a = torch.zeros_like(o)
            else:
                A = hue
                a = torch.zeros_like(o)
            m = sel.view(B, 1, 1)
            M_new, o_new = A @ M, torch.einsum("bij,bjt->bit", A, o) + a
            M, o = torch.where(m, M_new, M), torch.where(m, o_new, o)
    out = torch.einsum("bij,bjthw->bithw", M, x) + o[..., None, None]
    return out.clamp_(0, 1)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """``(x - mean) / std`` per channel (dim 1)."""
    m = _const(mean, x.dtype, x.device).view(1, -1, 1, 1, 1)
    s = _const(std, x.dtype, x.device).view(1, -1, 1, 1, 1)
    return (x - m) / s


# --------------------------------------------------------------------------------------
# Modules


class VideoAugment(nn.Module):
    """Training augmentation of a batch of clips, per-clip parameters shared over frames.

    ``forward(x, generator=None, sizes=None)``: ``x`` uint8 (or float in [0, 1]) ``(C, T, H, W)``,
    ``(B, C, T, H, W)`` or ``(B, V, C, T, H, W)`` (each view augmented independently), on any
    device -> float32 of the same leading shape with spatial size ``size``, normalised.
    ``sizes``: for clips of several sizes padded to one (the loader's ``ClipBatch.sizes``),
    the valid ``(H, W)`` of each clip, shape ``x.shape[:-4] + (2,)``; each clip's crop is
    drawn inside its own region. ``None``: every clip fills its frame.
    Steps: random resized crop (``scale``, ``ratio``) to ``size``; horizontal flip with
    probability 0.5 (``flip``); with probability ``jitter_p``, colour jitter with strengths
    ``jitter = (brightness, contrast, saturation, hue)`` (factors ~ U[max(0, 1-s), 1+s], hue
    shift ~ U[-h, h]), all four ops in a random order; grayscale with probability
    ``gray_p``; normalisation with ``mean``/``std``. Random draws use ``generator`` (on its
    own device, CPU by default) so results are reproducible. ``crop_method``: see
    :func:`resized_crop` (``"auto"``: vectorised ``roi_align`` on GPU, the faster per-clip
    uint8 resize on CPU).

    ``color``: ``"fused"`` (default) composes the four colour ops into one affine map per
    clip (:func:`fused_color_jitter`: hue as a YIQ chroma rotation, one final clamp), several
    times faster on CPU; ``"exact"`` applies them one after the other exactly as torchvision
    does (HSV hue, a clamp after each op).

    On CPU the exact path is ~9 ms per 16x112x112 clip on one core (hue dominates) and it runs as many
    small torch ops: when DataLoader workers share the cores, give the main process one
    intra-op thread (``torch.set_num_threads(1)``; with 2 threads on a busy 2-core machine we
    measured a 10x slowdown from OpenMP stalls), or augment in the workers
    (``ClipDataset(transform=...)``)."""

    def __init__(
        self,
        size: int | Sequence[int] = 112,
        scale: tuple[float, float] = (0.2, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip: bool = True,
        jitter: tuple[float, float, float, float] | None = (0.4, 0.4, 0.4, 0.1),
        jitter_p: float = 0.8,
        gray_p: float = 0.2,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        crop_method: str = "auto",
        color: str = "fused",
    ):
        super().__init__()
        if color not in ("fused", "exact"):
            raise ValueError(f"color must be 'fused' or 'exact', got {color!r}")
        self.color = color
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {ratio}")
        if jitter is not None and (len(jitter) != 4 or min(jitter) < 0 or jitter[3] > 0.5):
            raise ValueError(f"jitter must be 4 non-negative strengths (hue <= 0.5), got {jitter}")
        self.size = _pair(size)
        self.scale, self.ratio, self.flip = tuple(scale), tuple(ratio), flip
        self.jitter = tuple(jitter) if jitter is not None and any(jitter) else None
        self.jitter_p, self.gray_p = jitter_p, gray_p
        self.mean, self.std = tuple(mean), tuple(std)
        self.crop_method = crop_method

    def sample_params(
        self, batch: int, height: int | Tensor, width: int | Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """All random parameters of one call, on the generator's device: ``boxes`` (B, 4),
        ``flip`` (B,), ``jitter`` (B,), ``factors`` (B, 4), ``order`` (B, 4), ``gray`` (B,).
        ``height``/``width``: one int, or ``(B,)`` per clip (see :func:`sample_crop_boxes`)."""
        boxes = sample_crop_boxes(batch, height, width, self.scale, self.ratio, generator=generator)
        flip = _uniform(0, 1, (batch,), generator) < (0.5 if self.flip else 0.0)
        jit = _uniform(0, 1, (batch,), generator) < (self.jitter_p if self.jitter else 0.0)
        b, c, s, h = self.jitter or (0.0, 0.0, 0.0, 0.0)
        factors = torch.stack(
            [
                _uniform(max(0.0, 1 - b), 1 + b, (batch,), generator),
                _uniform(max(0.0, 1 - c), 1 + c, (batch,), generator),
                _uniform(max(0.0, 1 - s), 1 + s, (batch,), generator),
                _uniform(-h, h, (batch,), generator),
            ],
            dim=1,
        )
        order = torch.argsort(_uniform(0, 1, (batch, 4), generator), dim=1)
        gray = _uniform(0, 1, (batch,), generator) < self.gray_p
        return dict(boxes=boxes, flip=flip, jitter=jit, factors=factors, order=order, gray=gray)

    def apply(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """Apply given parameters to a batch ``(B, C, T, H, W)`` (uint8 or float)."""
        p = {k: _to_device(v, x.device) for k, v in params.items()}
        if x.dtype != torch.uint8:
            x = _to_float(x)
        x = resized_crop(x, p["boxes"], self.size, method=self.crop_method)  # (B, C, T, h, w) in [0, 1]
        x = hflip(x, p["flip"])
        if x.shape[1] != 3:
            return normalize(x, self.mean, self.std)
        if self.color == "exact":
            if self.jitter is not None:
                x = color_jitter(x, p["factors"], p["order"], p["jitter"], inplace=True)
            if self.gray_p > 0:
                x = torch.where(p["gray"].view(-1, 1, 1, 1, 1), rgb_to_grayscale(x).expand_as(x), x)
            return normalize(x, self.mean, self.std)
        if self.jitter is not None:
            x = fused_color_jitter(x, p["factors"], p["order"], p["jitter"])
        # Grayscale (per clip) and normalisation are affine too: one more pass over the pixels.
        B = x.shape[0]
        w = _const(_GRAY_WEIGHTS, x.dtype, x.device)
        G = torch.where(
            p["gray"].view(B, 1, 1),
            (torch.ones(3, 1, dtype=x.dtype, device=x.device) @ w.view(1, 3)),
            torch.eye(3, dtype=x.dtype, device=x.device),
        )  # (B, 3, 3)
        mean = _const(self.mean, x.dtype, x.device)
        std = _const(self.std, x.dtype, x.device)
        A = G / std.view(1, 3, 1)
        return torch.einsum("bij,bjthw->bithw", A, x).sub_((mean / std).view(1, 3, 1, 1, 1))

    def forward(self, x: Tensor, generator: torch.Generator | None = None, sizes: Tensor | None = None) -> Tensor:
        xb, lead = _as_batch(x)  # (B, C, T, H, W)
        flat = _flat_sizes(sizes, lead, xb.shape[-2], xb.shape[-1])  # (B, 2) or None
        h, w = (xb.shape[-2], xb.shape[-1]) if flat is None else (flat[:, 0], flat[:, 1])
        params = self.sample_params(xb.shape[0], h, w, generator)
        out = self.apply(xb, params)
        return out.reshape(*lead, *out.shape[1:])

    def extra_repr(self) -> str:
        return (
            f"size={self.size}, scale={self.scale}, ratio={tuple(round(r, 3) for r in self.ratio)}, flip={self.flip}, "
            f"jitter={self.jitter}, jitter_p={self.jitter_p}, gray_p={self.gray_p}"
        )


class VideoEval(nn.Module):
    """Test transform: resize the short side to ``resize`` (default ``size * 8 / 7``, i.e.
    128 -> 112 and 256 -> 224 as in the paper), centre crop ``size``, normalise.

    ``x``: uint8 (or float) ``(..., C, T, H, W)`` on any device -> float32 normalised;
    ``sizes``: see :meth:`crop`."""

    def __init__(
        self,
        size: int | Sequence[int] = 112,
        resize: int | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ):
        super().__init__()
        self.size = _pair(size)
        self.resize = resize if resize is not None else round(min(self.size) * 8 / 7)
        self.mean, self.std = tuple(mean), tuple(std)

    def _crop_full(self, xb: Tensor) -> Tensor:
        """Resize + centre crop of clips that fill their frames: ``(B, C, T, H, W)`` ->
        ``(B, C, T, size, size)``, one batched call over all frames."""
        b, c, t, h, w = xb.shape
        frames = xb.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        if min(h, w) != self.resize:
            frames = TF.resize(frames, self.resize, antialias=True)
        frames = TF.center_crop(frames, list(self.size))
        return frames.reshape(b, t, c, *self.size).transpose(1, 2)

    def crop(self, x: Tensor, sizes: Tensor | None = None) -> Tensor:
        """The geometry alone (resize, centre crop), keeping the dtype: what the model is shown,
        e.g. uint8 clips for display. ``(..., C, T, H, W) -> (..., C, T, size, size)``.

        ``sizes`` (``x.shape[:-4] + (2,)``, on the CPU): the valid ``(H, W)`` of clips padded to
        one size (the loader's ``ClipBatch.sizes``); each clip's own region is resized and
        cropped, clips of one size together in one call."""
        xb, lead = _as_batch(x)
        b, hmax, wmax = xb.shape[0], xb.shape[-2], xb.shape[-1]
        flat = _flat_sizes(sizes, lead, hmax, wmax)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, hw in enumerate([(hmax, wmax)] * b if flat is None else map(tuple, flat.cpu().tolist())):
            groups.setdefault(hw, []).append(i)  # type: ignore[arg-type]
        if list(groups) == [(hmax, wmax)]:  # every clip fills the frame: one call
            out = self._crop_full(xb)
        else:
            parts, order = [], []
            for (h, w), idx in groups.items():
                parts.append(self._crop_full(torch.stack([xb[i, :, :, :h, :w] for i in idx])))  # views, no sync
                order += idx
            inverse = torch.empty(b, dtype=torch.long)
            inverse[torch.tensor(order)] = torch.arange(b)
            out = torch.cat(parts).index_select(0, _to_device(inverse, xb.device))  # back to batch order
        return out.reshape(*lead, *out.shape[1:])

    def forward(self, x: Tensor, sizes: Tensor | None = None) -> Tensor:
        return normalize(_to_float(self.crop(x, sizes)), self.mean, self.std)

    def extra_repr(self) -> str:
        return f"size={self.size}, resize={self.resize}"
