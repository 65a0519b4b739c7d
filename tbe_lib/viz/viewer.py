"""Looking at activation maps: an ipywidgets viewer for JupyterLab and its static twin for the book.

* :class:`CamViewer`: pick a video, the models (several checkpoints side by side), the
  class ("predicted" or a class name); scrub frames and set the overlay opacity. Maps are
  cached by ``(video, model, class)``: changing the frame or the opacity only re-renders.
* :func:`static_views`: the same content as files (a frame-strip PNG and an animated GIF /
  MP4 per video, plus ``summary.csv``) for pages where widgets cannot run.

Clips given here are *display* clips, ``(N, C, T, H, W)`` uint8 or float in [0, 1] (or a
callable ``i -> (C, T, H, W)``); ``preprocess`` turns a batch of them into model input
(default :func:`default_preprocess`: ImageNet mean/std, as ``tbe_lib.augment.VideoEval``).
Maps are computed at the model input's size and drawn over the display frames, so
``preprocess`` must keep (T, H, W) (crop/resize the display clips beforehand).
Each model runs on its own device (CPU or GPU); maps are kept on the CPU.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from .cam import actor_area_share, actor_mass, classifier_layer, compute_cam
from .frames import to_display
from .overlay import cam_strip, colorize, panel_frames, write_animation
from .style import save_figure

__all__ = ["default_preprocess", "MapStyle", "CamViewer", "StaticView", "static_views", "PREDICTED"]

PREDICTED = "predicted"  # the class dropdown's value for "the model's predicted class"
CAPTION_LINES = 4  # room kept above each panel's image: model, prediction, class mapped, actor mass
_LINE = "white-space:nowrap;overflow:hidden;text-overflow:ellipsis;line-height:1.25em"  # one caption line

ClipSource = Tensor | Callable[[int], Tensor]
MaskSource = Tensor | np.ndarray | Callable[[int], Tensor] | None


def default_preprocess(clips: Tensor) -> Tensor:
    """(B, C, T, H, W) uint8 or float in [0, 1] -> float32 normalised with ImageNet mean/std
    (what :class:`tbe_lib.augment.VideoEval` feeds the models)."""
    from tbe_lib.augment.video import IMAGENET_MEAN, IMAGENET_STD, normalize

    x = clips.float() / 255.0 if clips.dtype == torch.uint8 else clips.float()
    return normalize(x, IMAGENET_MEAN, IMAGENET_STD)


@dataclass
class _Cam:
    """One clip's map for one model and class (CPU)."""

    map: Tensor  # (T, H, W) in [0, 1]
    cls: int  # class the map explains (-1: none)
    pred: int  # predicted class (-1: no classifier)
    probs: Tensor | None  # (K,)
    mass: float | None = None  # actor mass share
    colored: np.ndarray | None = field(default=None, repr=False)  # (T, H, W, 3) colormap, lazily


def _get_clip(clips: ClipSource, i: int) -> Tensor:
    clip = clips(i) if callable(clips) else clips[i]
    clip = torch.as_tensor(clip)
    if clip.dim() != 4 or clip.shape[0] not in (1, 3):
        raise ValueError(
            f"video {i}: expected a display clip (C, T, H, W) with C in (1, 3), got shape {tuple(clip.shape)}"
        )
    return clip.cpu()


def _get_mask(masks: MaskSource, i: int, shape: Sequence[int]) -> Tensor | None:
    if masks is None:
        return None
    mask = torch.as_tensor(masks(i) if callable(masks) else masks[i]).bool().cpu()
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(
            f"video {i}: actor mask has shape {tuple(mask.shape)}, the clip's frames are {tuple(shape)} (T, H, W)"
        )
    return mask


@dataclass(frozen=True)
class MapStyle:
    """How activation maps are computed and drawn (the viewer and :func:`static_views`).

    ``method``, ``normalize``: see :func:`tbe_lib.viz.cam.compute_cam`; ``preprocess``: display
    clips -> model input (:func:`default_preprocess`, which must keep (T, H, W)); ``alpha``:
    the overlay's opacity; ``cmap``: its matplotlib colour map."""

    method: str = "gradcam"
    normalize: str = "max"
    alpha: float = 0.5
    cmap: str = "jet"
    preprocess: Callable[[Tensor], Tensor] = default_preprocess


def _clip_cam(model: nn.Module, clip: Tensor, cls: int | None, style: MapStyle, *, mask: Tensor | None) -> _Cam:
    """Map of one display clip (C, T, H, W) for one model (on the model's device)."""
    x = style.preprocess(clip[None])  # (1, 3, T, H, W) model input
    res = compute_cam(model, x, target_class=cls, method=style.method, normalize=style.normalize, size=clip.shape[1:])
    m = res.maps[0].cpu()
    probs = None if res.probs is None else res.probs[0].cpu()
    out = _Cam(map=m, cls=int(res.classes[0]), pred=-1 if probs is None else int(probs.argmax()), probs=probs)
    if mask is not None:
        out.mass = float(actor_mass(m[None], mask[None])[0])
    return out


def _class_names(models: Mapping[str, nn.Module], class_names: Sequence[str] | None) -> list[str]:
    if class_names is not None:
        return [str(c) for c in class_names]
    ks = {fc.out_features for fc in (classifier_layer(m) for m in models.values()) if fc is not None}
    return [f"class {k}" for k in range(max(ks, default=0))]


def _caption_lines(name: str, cam: _Cam, names: list[str], area: float | None, *, short: bool = False) -> list[str]:
    """A map's caption, one plain-text line each: model, prediction, the class mapped (if
    another), actor mass vs. area (``short``: the ratio alone). An all-zero map, whose actor
    mass is 0 / 0, says so instead of showing NaN."""

    def cname(k: int) -> str:
        return names[k] if 0 <= k < len(names) else str(k)

    lines = [name]
    if cam.probs is not None:
        lines.append(f"pred {cname(cam.pred)} ({float(cam.probs[cam.pred]):.2f})")
        if cam.cls != cam.pred:
            lines.append(f"map: {cname(cam.cls)} ({float(cam.probs[cam.cls]):.2f})")
    if not bool(cam.map.max() > 0):
        undefined = ": actor mass undefined" if area is not None else ""
        lines.append("map all zero" if short else f"map is all zero{undefined}")
    elif cam.mass is not None and area is not None:
        if area <= 0:
            lines.append("no actor in view" if short else "no actor in these frames: actor mass undefined")
        else:
            ratio = cam.mass / area
            lines.append(
                f"actor x{ratio:.1f}" if short else f"actor mass {cam.mass:.2f} (area {area:.2f}, x{ratio:.1f})"
            )
    return lines


def _describe(name: str, cam: _Cam, names: list[str], area: float | None, html: bool) -> str:
    """Caption (``html=True``: one ``<div>`` a line, each cut to the panel's width with an
    ellipsis and whole in its tooltip) or the short form used as a strip's row label."""
    if not html:
        return "\n".join(_caption_lines(name, cam, names, area, short=True))
    return "".join(
        f'<div title="{escape(x)}" style="{_LINE}">{f"<b>{escape(x)}</b>" if i == 0 else escape(x)}</div>'
        for i, x in enumerate(_caption_lines(name, cam, names, area))
    )


class CamViewer:
    """Interactive activation maps of several models on a set of videos (ipywidgets).

    Display ``viewer.widget``. Controls (ipywidgets, settable from Python): ``video``
    (IntSlider), ``models_select`` (SelectMultiple of model names), ``cls`` (Dropdown:
    :data:`PREDICTED` or a class index), ``frame`` (IntSlider), ``opacity`` (FloatSlider),
    ``play`` (Play, linked to ``frame`` in the browser). Shown: the clip's frame
    (``clip_image``) and one overlay per selected model (``images[name]``, PNG bytes in
    ``images[name].value``) with a caption (``captions[name]``: prediction, probability,
    and the actor mass share vs. area share when ``masks`` are given). Every panel has the
    same size, ``panel_size`` (width, height) px, the frame enlarged ``scale`` times; long
    captions are cut to it with an ellipsis (whole in their tooltip).
    ``n_computed`` counts map computations: one per new (video, model, class).

    Args:
        clips: display clips (N, C, T, H, W) uint8 / float in [0, 1], or ``i -> (C, T, H, W)``
            (then ``num_videos`` is required).
        models: name -> model (each on its own device).
        class_names: names of the classifier's classes (default ``class k``).
        masks: actor masks (N, T, H, W) bool (or ``i -> (T, H, W)``), e.g. from
            ``tbe_lib.data.synth.load_masks``; outlined on the clip and measured.
        style: how maps are computed and drawn (:class:`MapStyle`).
        scale: enlarge frames this many times (nearest); default to >= 160 px high.
    """

    def __init__(
        self,
        clips: ClipSource,
        models: Mapping[str, nn.Module],
        *,
        class_names: Sequence[str] | None = None,
        masks: MaskSource = None,
        num_videos: int | None = None,
        style: MapStyle = MapStyle(),
        scale: int | None = None,
        video_names: Sequence[str] | None = None,
    ) -> None:
        import ipywidgets as w

        if not models:
            raise ValueError("CamViewer: give at least one model (models={'name': model})")
        if callable(clips):
            if num_videos is None:
                raise ValueError("CamViewer: clips is a callable, so num_videos= is required")
            n = int(num_videos)
        else:
            if clips.dim() != 5:
                raise ValueError(
                    f"CamViewer: clips must be (N, C, T, H, W) or a callable, got shape {tuple(clips.shape)}"
                )
            n = clips.shape[0] if num_videos is None else int(num_videos)
        if n < 1:
            raise ValueError("CamViewer: no videos to show")
        self.clips, self.models, self.masks = clips, dict(models), masks
        self.num_videos, self.style = n, style
        method = style.method
        self.class_names = _class_names(self.models, class_names)
        self.video_names = None if video_names is None else [str(v) for v in video_names]
        self.n_computed = 0
        self._cams: dict[tuple[int, str, int | None], _Cam] = {}
        self._clip_cache: dict[int, tuple[Tensor, np.ndarray, Tensor | None]] = {}  # video -> (clip, frames, mask)

        _, frames0, _ = self._display(0)
        T, H = frames0.shape[0], frames0.shape[1]
        self.scale = max(1, -(-160 // H)) if scale is None else int(scale)

        self.video = w.IntSlider(value=0, min=0, max=n - 1, description="video", continuous_update=False)
        self.models_select = w.SelectMultiple(
            options=list(self.models), value=tuple(self.models), description="models", rows=min(len(self.models), 5)
        )
        self.cls = w.Dropdown(
            options=[(PREDICTED, PREDICTED)] + [(c, k) for k, c in enumerate(self.class_names)],
            value=PREDICTED,
            description="class",
            disabled=method == "activation",
        )
        self.frame = w.IntSlider(value=0, min=0, max=T - 1, description="frame")
        self.play = w.Play(value=0, min=0, max=T - 1, interval=150, description="play")
        w.jslink((self.play, "value"), (self.frame, "value"))
        self.opacity = w.FloatSlider(value=style.alpha, min=0.0, max=1.0, step=0.05, description="opacity")
        # Every panel the size of the enlarged frame; captions are cut to that width (whole
        # in their tooltip) and given room for CAPTION_LINES lines, so the images line up.
        self.clip_image, self.clip_caption = self._image(), self._caption()
        self.images = {name: self._image() for name in self.models}
        self.captions = {name: self._caption() for name in self.models}
        self._clip_box = self._panel(self.clip_caption, self.clip_image)
        self._panels = {name: self._panel(self.captions[name], self.images[name]) for name in self.models}
        self.panels = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._fit_panels(frames0.shape[1], frames0.shape[2])
        self.status = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.video, self.cls, self.models_select]),
                w.HBox([self.play, self.frame, self.opacity]),
                self.panels,
                self.status,
            ]
        )
        self.video.observe(self._on_video, names="value")
        self.models_select.observe(lambda _: self.refresh(), names="value")
        self.cls.observe(lambda _: self.refresh(), names="value")
        self.frame.observe(lambda _: self.render(), names="value")
        self.opacity.observe(lambda _: self.render(), names="value")
        self.refresh()

    # -- data ---------------------------------------------------------------------------

    def _display(self, video: int) -> tuple[Tensor, np.ndarray, Tensor | None]:
        """The clip (C, T, H, W), its (T, H, W, 3) display frames and (T, H, W) actor mask (cached)."""
        if video not in self._clip_cache:
            clip = _get_clip(self.clips, video)
            img = to_display(clip)
            img = np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img
            self._clip_cache[video] = (clip, img, _get_mask(self.masks, video, img.shape[:3]))
        return self._clip_cache[video]

    def cam(self, video: int, model: str, cls: int | str = PREDICTED) -> _Cam:
        """The (cached) map of ``video`` for ``model`` and class ``cls`` (an index or
        :data:`PREDICTED`); computes it on a cache miss (``n_computed += 1``)."""
        want = None if cls == PREDICTED or self.style.method == "activation" else int(cls)
        key = (video, model, want)
        if key not in self._cams:
            clip, _, mask = self._display(video)
            res = _clip_cam(self.models[model], clip, want, self.style, mask=mask)
            self.n_computed += 1
            self._cams[key] = res
            if want is None and res.cls >= 0 and self.style.method != "activation":
                self._cams.setdefault((video, model, res.cls), res)  # "predicted" = that class's map
        return self._cams[key]

    # -- display ------------------------------------------------------------------------

    def _png(self, frame: np.ndarray) -> bytes:
        from PIL import Image

        img = (np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8)
        img = img.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="png")
        return buf.getvalue()

    def _image(self):
        import ipywidgets as w

        return w.Image(format="png", layout=w.Layout(object_fit="contain", margin="0"))

    def _caption(self):
        import ipywidgets as w

        return w.HTML(layout=w.Layout(height=f"{1.25 * CAPTION_LINES + 0.25:g}em", overflow="hidden", margin="0"))

    def _panel(self, caption, image):
        import ipywidgets as w

        return w.VBox([caption, image], layout=w.Layout(flex="0 0 auto", margin="0 6px 6px 0", overflow="hidden"))

    def _fit_panels(self, height: int, width: int) -> None:
        """Size every panel (clip and models) to the frames, ``scale`` times, whatever its caption."""
        self.panel_size = (width * self.scale, height * self.scale)  # (width, height) px
        px_w, px_h = (f"{x}px" for x in self.panel_size)
        for box in (self._clip_box, *self._panels.values()):
            caption, image = box.children
            box.layout.width = caption.layout.width = image.layout.width = px_w
            image.layout.height = px_h
            image.width, image.height = self.panel_size

    def _on_video(self, _change: object) -> None:
        _, frames, _ = self._display(self.video.value)
        T = frames.shape[0]
        if (frames.shape[2] * self.scale, frames.shape[1] * self.scale) != self.panel_size:
            self._fit_panels(frames.shape[1], frames.shape[2])
        if self.frame.max != T - 1:
            self.frame.value = min(self.frame.value, T - 1)
            self.frame.max = self.play.max = T - 1
        self.refresh()

    def refresh(self) -> None:
        """Compute what the current video / models / class need (cached), then render."""
        video, selected = self.video.value, list(self.models_select.value)
        _, _, mask = self._display(video)
        area = None if mask is None else float(actor_area_share(mask[None])[0])
        for name in selected:
            self.captions[name].value = _describe(
                name, self.cam(video, name, self.cls.value), self.class_names, area, html=True
            )
        self.panels.children = [self._clip_box, *(self._panels[n] for n in selected)]
        label = self.video_names[video] if self.video_names else f"video {video}"
        lines = [f"<b>{escape(label)}</b>"] + ([f"actor area {area:.2f}"] if area is not None else [])
        self.clip_caption.value = "".join(f'<div title="{escape(label)}" style="{_LINE}">{x}</div>' for x in lines)
        self.status.value = (
            f"{self.style.method} maps, normalised per clip ({self.style.normalize}); computed {self.n_computed}"
        )
        self.render()

    def render(self) -> None:
        """Re-draw the current frame for the selected models (no map computation)."""
        video, t, a = self.video.value, self.frame.value, float(self.opacity.value)
        _, frames, mask = self._display(video)
        t = min(t, frames.shape[0] - 1)
        clip_frame = frames[t].copy()
        if mask is not None:  # outline the actor in white
            m = mask[t].numpy()
            edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
            clip_frame[edge] = 1.0
        self.clip_image.value = self._png(clip_frame)
        for name in self.models_select.value:
            cam = self.cam(video, name, self.cls.value)  # cached
            if cam.colored is None:
                cam.colored = colorize(cam.map, self.style.cmap)  # (T, H, W, 3)
            self.images[name].value = self._png((1 - a) * frames[t] + a * cam.colored[t])


# --------------------------------------------------------------------------------------
# Static rendering for the book


@dataclass
class StaticView:
    """Files and numbers written by :func:`static_views` for one video."""

    index: int
    strip: Path  # PNG: clip row + one overlay row per model
    animation: Path  # GIF / MP4: clip | overlay per model, side by side
    classes: dict[str, int]  # model -> class its map explains
    predicted: dict[str, int]  # model -> predicted class (-1: no classifier)
    prob: dict[str, float]  # model -> probability of the explained class (nan: no classifier)
    actor_mass: dict[str, float] | None  # model -> actor mass share (with masks)
    actor_area: float | None  # actor area share (the chance level)


def static_views(
    clips: ClipSource,
    models: Mapping[str, nn.Module],
    out_dir: str | os.PathLike,
    *,
    indices: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    masks: MaskSource = None,
    target_class: int | None = None,
    style: MapStyle = MapStyle(),
    frames: Sequence[int] | None = None,
    fps: float = 8.0,
    animation: str = "gif",
    prefix: str = "video",
) -> list[StaticView]:
    """Write, per video ``i`` of ``indices``: ``{prefix}{i:05d}_strip.png`` (the clip and
    each model's overlay, frames ``frames``), ``{prefix}{i:05d}.{animation}`` (``gif`` or
    ``mp4``: the clip and the overlays side by side, all frames), and ``summary.csv`` (one
    row per video and model: classes, probability, actor mass / area / ratio). Maps are for
    ``target_class`` (default: each model's predicted class). Returns one
    :class:`StaticView` per video."""
    import matplotlib.pyplot as plt

    if animation not in ("gif", "mp4"):
        raise ValueError(f"animation must be 'gif' or 'mp4', got {animation!r}")
    if indices is None:
        if callable(clips):
            raise ValueError("static_views: clips is a callable, so indices= is required")
        indices = range(clips.shape[0])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = _class_names(models, class_names)
    views: list[StaticView] = []
    for i in indices:  # one figure and one animation per video
        clip = _get_clip(clips, int(i))
        mask = _get_mask(masks, int(i), clip.shape[1:])
        cams = {name: _clip_cam(model, clip, target_class, style, mask=mask) for name, model in models.items()}
        area = None if mask is None else float(actor_area_share(mask[None])[0])
        labels = {name: _describe(name, c, names, area, html=False) for name, c in cams.items()}
        fig = cam_strip(
            clip,
            {labels[n]: c.map for n, c in cams.items()},
            frames=frames,
            alpha=style.alpha,
            cmap=style.cmap,
            title=f"{prefix} {i}: {style.method} maps",
        )
        strip = out / f"{prefix}{int(i):05d}_strip.png"
        save_figure(fig, strip)
        plt.close(fig)
        display = to_display(clip)
        display = np.repeat(display, 3, axis=-1) if display.shape[-1] == 1 else display
        a = style.alpha
        panels = [display] + [(1 - a) * display + a * colorize(c.map, style.cmap) for c in cams.values()]
        anim = write_animation(
            panel_frames(panels, ["clip", *cams]), out / f"{prefix}{int(i):05d}.{animation}", fps=fps
        )
        views.append(
            StaticView(
                index=int(i),
                strip=strip,
                animation=anim,
                classes={n: c.cls for n, c in cams.items()},
                predicted={n: c.pred for n, c in cams.items()},
                prob={
                    n: float(c.probs[c.cls]) if c.probs is not None and c.cls >= 0 else float("nan")
                    for n, c in cams.items()
                },
                actor_mass=None if mask is None else {n: float(c.mass) for n, c in cams.items()},
                actor_area=area,
            )
        )
    with open(out / "summary.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "video",
                "model",
                "class",
                "class_name",
                "predicted",
                "prob",
                "actor_mass",
                "actor_area",
                "actor_mass_ratio",
            ]
        )
        for v in views:
            for n in v.classes:
                mass = v.actor_mass[n] if v.actor_mass is not None else float("nan")
                area = v.actor_area if v.actor_area is not None else float("nan")
                k = v.classes[n]
                writer.writerow(
                    [
                        v.index,
                        n,
                        k,
                        names[k] if 0 <= k < len(names) else "",
                        v.predicted[n],
                        f"{v.prob[n]:.4f}",
                        f"{mass:.4f}",
                        f"{area:.4f}",
                        f"{mass / area if area else float('nan'):.4f}",
                    ]
                )
    return views
