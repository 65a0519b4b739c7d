"""Activation maps drawn over frames: overlays, frame strips, animated GIF / MP4 panels.

Maps are ``(T, H, W)`` in [0, 1] (one clip of :func:`tbe_lib.viz.cam.compute_cam`'s
``maps``); clips are ``(C, T, H, W)`` uint8 or float in [0, 1] (display clips, *not* the
normalised model input). Overlays are ``(T, H, W, 3)`` float arrays in [0, 1]::

    overlay = (1 - alpha) * frame + alpha * colormap(map)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .frames import frame_strip, to_display
from .style import DPI, LABEL_PT, PAGE_WIDTH_IN, TEXT_PX_KEY

__all__ = ["colorize", "overlay", "cam_strip", "panel_frames", "write_animation"]

#: Text size of the animations' labels, px: 9 pt on a 96-px-per-inch page when shown unshrunk.
PANEL_TEXT_PX = 13
_TEXT_ROW = PANEL_TEXT_PX + 5  # px: a line of text above (labels) or below (time) the panels


def _as_map(cam: Tensor | np.ndarray) -> np.ndarray:
    m = cam.detach().float().cpu().numpy() if isinstance(cam, Tensor) else np.asarray(cam, dtype=np.float32)
    if m.ndim != 3:
        raise ValueError(f"expected one clip's map of shape (T, H, W), got {m.shape}")
    return np.clip(m, 0.0, 1.0)


def _rgb(clip: Tensor | np.ndarray) -> np.ndarray:
    """(C, T, H, W) tensor or (T, H, W, C) display array -> (T, H, W, 3) float in [0, 1]."""
    img = to_display(clip) if isinstance(clip, Tensor) else np.asarray(clip, dtype=np.float32)
    if img.ndim != 4 or img.shape[-1] not in (1, 3):
        raise ValueError(f"expected a clip (C, T, H, W) with C in (1, 3), got display shape {img.shape}")
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


def colorize(cam: Tensor | np.ndarray, cmap: str = "jet") -> np.ndarray:
    """(T, H, W) map in [0, 1] -> (T, H, W, 3) RGB float in [0, 1] through a matplotlib colormap."""
    import matplotlib

    return matplotlib.colormaps[cmap](_as_map(cam))[..., :3].astype(np.float32)


def overlay(
    clip: Tensor | np.ndarray, cam: Tensor | np.ndarray, *, alpha: float = 0.5, cmap: str = "jet"
) -> np.ndarray:
    """Heat map over frames: ``(1 - alpha) * frame + alpha * colormap(cam)``.

    ``clip`` (C, T, H, W) (or a (T, H, W, C) display array), ``cam`` (T, H, W) in [0, 1]
    -> (T, H, W, 3) float in [0, 1]. ``alpha=0`` gives the frames, 1 the heat map alone."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img, heat = _rgb(clip), colorize(cam, cmap)
    if img.shape[:3] != heat.shape[:3]:
        raise ValueError(
            f"clip frames {img.shape[:3]} and map {heat.shape[:3]} differ in (T, H, W); "
            "compute the map at the clip's size (compute_cam(..., size=...))"
        )
    return (1.0 - alpha) * img + alpha * heat


def cam_strip(
    clip: Tensor,
    maps: Mapping[str, Tensor | np.ndarray],
    *,
    frames: Sequence[int] | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    title: str | None = None,
    clip_label: str = "clip",
):
    """A frame-strip figure: the clip in the first row, then one overlay row per entry of
    ``maps`` (e.g. ``{"Random": m0, "MoCo": m1, "BE": m2}``, each (T, H, W); the keys label
    the rows, so they may carry a class or a score). Returns a matplotlib Figure."""
    import matplotlib as mpl

    rows = [clip]
    for name, cam in maps.items():
        ov = overlay(clip, cam, alpha=alpha, cmap=cmap)  # (T, H, W, 3)
        rows.append(torch.from_numpy(ov).permute(3, 0, 1, 2))  # (3, T, H, W), as frame_strip takes
    fig = frame_strip(rows, [clip_label, *maps.keys()], frames=frames, title=title)
    n_cols = len(fig.axes) // len(rows)
    for ax in fig.axes[::n_cols]:  # horizontal row labels: they may be several lines long
        ax.yaxis.label.set(rotation=0, ha="right", va="center")
    fig.tight_layout()
    # the overlays' colour scale: what a colour of the map means
    bar = fig.colorbar(
        mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=cmap), ax=fig.axes[n_cols:], fraction=0.02, pad=0.01
    )
    bar.set_label("activation (per clip, 1 = its maximum)", fontsize=LABEL_PT)
    bar.ax.tick_params(labelsize=LABEL_PT)
    return fig


def _fit_text(draw, text: str, width: float, font=None) -> str:
    """``text`` on one line, cut (ending in "..") to at most ``width`` px as ``draw`` writes it."""
    text = " ".join(str(text).split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "..", font=font) > width:
        text = text[:-1]
    return text.rstrip() + ".."


def panel_frames(
    panels: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    scale: int | None = None,
    min_height: int = 128,
    max_width: int = round(PAGE_WIDTH_IN * DPI),
    gap: int = 4,
    show_time: bool = True,
) -> np.ndarray:
    """Side-by-side animation frames: ``panels`` of (T, H, W, 3) floats in [0, 1] -> uint8
    (T, H', W', 3), each panel enlarged ``scale`` times (nearest; default: to at least
    ``min_height`` px, but no wider in all than ``max_width``, the book's column, so that the
    page shows it unshrunk), with its label above it in :data:`PANEL_TEXT_PX` px text (on one
    line, cut to the panel's width) and,
    when ``show_time``, ``t=i/T`` in a line of its own below the panels (which also keeps
    every frame distinct: GIF writers merge equal ones)."""
    from PIL import Image, ImageDraw, ImageFont

    if not panels:
        raise ValueError("panel_frames: need at least one panel")
    T, H, W, _ = panels[0].shape
    if any(p.shape != panels[0].shape for p in panels):
        raise ValueError(f"panel_frames: panels differ in shape: {[p.shape for p in panels]}")
    if scale is None:
        fit = (max_width - (len(panels) - 1) * gap) // (len(panels) * W)
        scale = max(1, min(-(-min_height // H), fit))
    scale = int(scale)
    font = ImageFont.load_default(size=PANEL_TEXT_PX)
    stack = np.stack(panels)  # (P, T, H, W, 3)
    stack = stack.repeat(scale, axis=2).repeat(scale, axis=3)  # (P, T, sH, sW, 3)
    head, foot = (_TEXT_ROW if labels else 0), (_TEXT_ROW if show_time else 0)
    P, sH, sW = len(panels), H * scale, W * scale
    out = np.full((T, head + sH + foot, P * sW + (P - 1) * gap, 3), 255, dtype=np.uint8)
    body = (np.clip(stack, 0, 1) * 255 + 0.5).astype(np.uint8)
    for p in range(P):  # P panels (a handful); the T frames are one array write
        out[:, head : head + sH, p * (sW + gap) : p * (sW + gap) + sW] = body[p]
    if labels:  # the same on every frame: drawn once
        img = Image.fromarray(out[0, :head])
        draw = ImageDraw.Draw(img)
        for p, label in enumerate(labels):
            draw.text((p * (sW + gap) + 2, 1), _fit_text(draw, label, sW - 4, font), fill=(0, 0, 0), font=font)
        out[:, :head] = np.asarray(img)
    if show_time:
        for t in range(T):  # text needs PIL per frame
            img = Image.fromarray(out[t, head + sH :])
            draw = ImageDraw.Draw(img)
            text = f"t={t}/{T}"
            draw.text((out.shape[2] - draw.textlength(text, font=font) - 2, 1), text, fill=(90, 90, 90), font=font)
            out[t, head + sH :] = np.asarray(img)
    return out


def write_animation(
    frames: np.ndarray, path: str | os.PathLike, *, fps: float = 8.0, text_px: float | None = PANEL_TEXT_PX
) -> Path:
    """Write uint8 (T, H, W, 3) frames to ``path``: ``.gif`` (Pillow, looping; its comment
    records ``text_px``, the size of its smallest text, for the page check: None for no text) or ``.mp4``
    (PyAV, via :func:`tbe_lib.data.synth.writer.write_video`; odd sizes are padded white)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"write_animation({path}): frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        comment = f"{TEXT_PX_KEY}={'none' if text_px is None else f'{text_px:.2f}'}"
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0, comment=comment
        )
        return path
    if suffix == ".mp4":
        from tbe_lib.data.synth.writer import write_video

        pad = ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0))
        return write_video(path, np.pad(frames, pad, constant_values=255), fps=int(round(fps)))
    raise ValueError(f"write_animation: unsupported file type {path.suffix!r} for {path}; use .gif or .mp4")
