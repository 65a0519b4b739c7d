"""Small helpers shared by the book's notebooks (so no notebook copies code from another).

* paths: :func:`project_root`, :func:`project_path` (notebooks run with the working
  directory ``notebooks/`` in JupyterLab and under ``tbe reproduce``; parameters name paths
  relative to the project root);
* data: :func:`ensure_synth` (the embedded benchmark at a folder, generated if absent),
  :func:`clip_tensor`, :func:`render_clips` (benchmark videos rendered in memory with their
  actor masks), :func:`single_frame_matrix` (one decoded frame per video, for linear probes),
  :func:`frame_leak` (how well one frame at a fixed index predicts the class);
* numbers: :func:`glue` (keeps a value for the prose, and myst-nb's ``glue``), :func:`say`
  (a sentence with the glued numbers, the same in JupyterLab and on the site),
  :func:`median_ms` (a small timing with medians), :func:`be_region_change` (how much BE
  changes background vs actor pixels), :func:`be_change_levels` (the same without masks, for
  real videos), :func:`denormalize` (augmented views for display).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import Tensor

from tbe_lib.utils import median_ms  # noqa: F401  (re-exported for the notebooks)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "in_papermill",
    "project_root",
    "project_path",
    "ensure_synth",
    "clip_tensor",
    "render_clips",
    "single_frame_matrix",
    "frame_leak",
    "glue",
    "say",
    "GLUED",
    "median_ms",
    "be_region_change",
    "be_change_levels",
    "denormalize",
    "read_json",
    "load_module",
]


def in_papermill() -> bool:
    """Whether the notebook runs under ``tbe reproduce`` / papermill (plain log lines, no bars)."""
    return bool(os.environ.get("PAPERMILL_EXECUTION")) or os.environ.get("TBE_PROGRESS") in ("log", "summary")


def project_root() -> Path:
    """``$TBE_PROJECT_ROOT`` (set by ``tbe reproduce``), else the first folder upwards from the
    working directory holding ``_toc.yml`` and ``tbe_lib/``, else the working directory."""
    env = os.environ.get("TBE_PROJECT_ROOT")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / "_toc.yml").is_file() and (d / "tbe_lib").is_dir():
            return d
    return here


def project_path(path: str | os.PathLike) -> Path:
    """``path`` if absolute, else relative to :func:`project_root`."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def ensure_synth(
    data_dir: str | os.PathLike, size: str = "default", *, workers: int | None = None, **overrides: Any
) -> Path:
    """The embedded benchmark of preset ``size`` (with ``SynthConfig`` field ``overrides``,
    e.g. ``camera="pan"``) at ``data_dir`` (relative to the project root): generated there
    if absent or from another config, reused as is otherwise. Returns the absolute folder."""
    from tbe_lib.data.synth import config_for, generate, load_manifest

    out = project_path(data_dir)
    cfg = config_for(size, **overrides)
    t0 = time.perf_counter()
    before = (load_manifest(out) or {}).get("hash") if out.exists() else None
    generate(out, cfg, workers=workers, progress=not in_papermill())
    after = (load_manifest(out) or {}).get("hash")
    if before != after:
        print(
            f"generated the embedded benchmark ({size}, {sum(cfg.counts().values())} videos) in {out} "
            f"in {time.perf_counter() - t0:.1f} s"
        )
    else:
        print(f"embedded benchmark ({size}, hash {after}) found in {out}")
    return out


def clip_tensor(frames: np.ndarray) -> Tensor:
    """uint8 frames (T, H, W, 3) -> float clip (3, T, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div_(255)


def render_clips(cfg: Any, split: str, indices: Sequence[int]) -> tuple[Tensor, Tensor, list[dict]]:
    """Render videos ``indices`` of ``split`` in memory (no disk, no compression): clips float
    (N, 3, T, H, W) in [0, 1], actor masks bool (N, T, H, W) and their metadata."""
    from tbe_lib.data.synth import render_video_with_masks

    clips, masks, metas = [], [], []
    for i in indices:  # rendering is per video by design (one seed per video)
        f, m, meta = render_video_with_masks(cfg, split, int(i))
        clips.append(clip_tensor(f))
        masks.append(torch.from_numpy(m))
        metas.append(meta)
    return torch.stack(clips), torch.stack(masks), metas


def single_frame_matrix(
    list_path: str | os.PathLike, *, limit: int = 0, workers: int = 0, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """One frame per video (the centre frame, decoded from disk by the book's loader) of the
    list at ``list_path``, flattened: features float32 (N, 3*H*W) in [0, 1] and labels (N,).
    ``limit``: use only the first ``limit`` videos (0: all)."""
    from torch.utils.data import Subset

    from tbe_lib.data.dataset import ClipDataset, ClipSampler, build_loader

    ds = ClipDataset(list_path, ClipSampler(frames=1, mode="center"))
    if limit and limit < len(ds):
        ds = Subset(ds, range(limit))  # type: ignore[assignment]
    loader = build_loader(ds, batch_size, shuffle=False, workers=workers)
    xs, ys = [], []
    for batch in loader:
        xs.append(batch.clips.flatten(1).float().div_(255).numpy())  # (B, 3*1*H*W)
        ys.append(batch.labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def frame_leak(
    list_path: str | os.PathLike,
    *,
    frames: Sequence[int] | None = None,
    size: int = 16,
    folds: int = 5,
    limit: int = 0,
    workers: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """How much one frame at a *fixed* index tells about the class, within one split: for each
    frame index ``t`` in ``frames`` (default: every 4th and the last) of the videos of
    ``list_path``, the accuracy of a logistic regression on
    frame ``t`` alone (decoded by the book's loader, area-resized to ``size`` x ``size``),
    cross-validated over ``folds`` stratified folds of the split (fewer when a class has fewer
    videos). Returns one row per frame
    index: ``frame``, ``accuracy`` and its 95 % Wilson interval ``low``, ``high`` (over the
    videos). Chance is 1 / classes; a benchmark whose classes are pure motion should stay near it
    at every index."""
    import pandas as pd
    import torch.nn.functional as F
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from torch.utils.data import Subset

    from tbe_lib.data.dataset import ClipDataset, ClipSampler, build_loader
    from tbe_lib.data.decode import probe_num_frames
    from tbe_lib.data.listfile import read_list

    videos = read_list(list_path)
    length = probe_num_frames(videos.resolve(videos.records[0]))
    indices = sorted(set(range(0, length, 4)) | {length - 1}) if frames is None else list(frames)
    ds = ClipDataset(videos, ClipSampler(frames=length, mode="center"))
    if limit and limit < len(ds):
        ds = Subset(ds, range(limit))  # type: ignore[assignment]
    xs, ys = [], []
    for batch in build_loader(ds, 32, shuffle=False, workers=workers):
        clips = batch.clips.float().div_(255).transpose(1, 2).flatten(0, 1)  # (B*T, 3, H, W)
        small = F.interpolate(clips, size=(size, size), mode="area")  # (B*T, 3, size, size)
        xs.append(small.unflatten(0, (-1, length)).flatten(2).numpy())  # (B, T, 3*size*size)
        ys.append(batch.labels.numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    folds = min(folds, int(np.bincount(y).min()))  # a tiny split (smoke) has 2 videos per class
    if folds < 2:
        raise ValueError(f"{list_path}: frame_leak needs at least 2 videos of every class for cross-validation")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    rows = []
    for t in indices:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
        acc = float((cross_val_predict(clf, x[:, t], y, cv=cv) == y).mean())
        low, high = wilson_interval(acc, len(y))
        rows.append({"frame": t, "accuracy": acc, "low": low, "high": high})
    return pd.DataFrame(rows)


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``p`` measured on ``n`` trials."""
    if n <= 0:
        return float("nan"), float("nan")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


#: Every value :func:`glue` was given in this kernel, by name (what :func:`say` formats with).
GLUED: dict[str, Any] = {}


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Keep ``value`` under ``name`` for the prose: :func:`say` writes it into a sentence, in
    JupyterLab and on the site alike; also ``myst_nb.glue(name, value, display=display)`` (when
    myst-nb is installed), for the pages that cite it with a glue role."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    GLUED[name] = value
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - myst-nb ships with jupyter-book
        return
    _glue(name, value, display=display)


def say(template: str) -> None:
    """Show ``template`` as Markdown with the glued values filled in: ``{name}`` or
    ``{name:.2f}`` (``str.format`` fields naming :func:`glue`'d values). The notebook and the
    page then read the same sentence, numbers included (a ``{glue:text}`` role only fills in
    on the built site). An unknown name is a ``KeyError`` naming it."""
    from IPython.display import Markdown, display

    try:
        text = template.format_map(GLUED)
    except KeyError as e:
        raise KeyError(f"say(): {e.args[0]!r} was never glued; glue(name, value) it first") from None
    display(Markdown(text))


def be_region_change(clips: Tensor, mixed: Tensor, masks: Tensor, *, margin: int = 0) -> dict[str, Tensor]:
    """Per clip, how much BE changed background vs actor pixels.

    ``clips``, ``mixed``: (N, C, T, H, W); ``masks``: bool (N, T, H, W) actor pixels. The
    *background* of a clip is the pixels the actor never covers in any frame (so a static
    copy of the actor, mixed in from frame k, does not count as background change), after
    growing the masks by ``margin`` pixels (the benchmark's masks mark alpha >= 0.5; the
    digit's soft edge reaches about 3 pixels further), across the frame's edges: the
    benchmark's actor moves on a torus, so its edge may be on the opposite side.
    Returns (N,) tensors in pixel-value units of the input: ``bg_max`` and ``bg_mean`` (max
    and mean of ``|x~ - x|`` over background pixels, all channels), ``actor_mean`` (mean over
    the actor's pixels of each frame) and ``bg_share`` (fraction of pixels that are background)."""
    if margin > 0:
        n, t, h, w = masks.shape
        wrapped = torch.nn.functional.pad(masks.float().view(n * t, 1, h, w), (margin,) * 4, mode="circular")
        grown = torch.nn.functional.max_pool2d(wrapped, 2 * margin + 1, 1)
        masks = grown.view(n, t, h, w).bool()
    diff = (mixed - clips).abs().amax(1)  # (N, T, H, W): largest channel change per pixel
    bg = ~masks.any(1, keepdim=True).expand_as(masks)  # (N, T, H, W)
    n_bg = bg.flatten(1).sum(1).clamp_min(1)
    n_fg = masks.flatten(1).sum(1).clamp_min(1)
    return {
        "bg_max": torch.where(bg, diff, torch.zeros_like(diff)).flatten(1).amax(1),
        "bg_mean": (diff * bg).flatten(1).sum(1) / n_bg,
        "actor_mean": (diff * masks).flatten(1).sum(1) / n_fg,
        "bg_share": bg.flatten(1).float().mean(1),
    }


def be_change_levels(clip: Tensor, mixed: Tensor) -> dict[str, float]:
    """How much BE changed a clip without actor masks (a real video): ``clip``, ``mixed``
    float ``(C, T, H, W)`` in [0, 1]. Per pixel, the largest channel change ``|x~ - x|`` in
    8-bit grey levels; returns its ``mean``, the share of pixels changed by less than one
    grey level (``unchanged``: where frame j shows what the static frame k shows, e.g. a
    still background) and by 5 or more (``changed``)."""
    diff = 255 * (mixed.float() - clip.float()).abs().amax(0)  # (T, H, W)
    return {
        "mean": float(diff.mean()),
        "unchanged": float((diff < 1).float().mean()),
        "changed": float((diff >= 5).float().mean()),
    }


def denormalize(x: Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> Tensor:
    """Undo ``VideoAugment``'s normalisation for display: (..., C, T, H, W) -> [0, 1]."""
    from tbe_lib.augment.video import IMAGENET_MEAN, IMAGENET_STD

    m = torch.tensor(mean or IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    s = torch.tensor(std or IMAGENET_STD, dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    return (x * s + m).clamp(0, 1)


def load_module(path: str | os.PathLike, name: str | None = None) -> Any:
    """Import the Python file at ``path`` (relative to the project root), e.g. a script of
    ``bench/``, to reuse a function it defines without copying it."""
    import importlib.util

    p = project_path(path)
    spec = importlib.util.spec_from_file_location(name or p.stem, p)
    if spec is None or spec.loader is None or not p.is_file():
        raise FileNotFoundError(f"{p}: no such Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_json(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON file at ``path`` (relative to the project root), or ``None`` if absent."""
    p = project_path(path)
    if not p.is_file():
        return None
    return json.loads(p.read_text())
