"""Classification metrics: clip- and video-level top-k, per-class accuracy, confusion matrix.

Two levels of accuracy are reported separately and must not be confused:

* **clip-level**: every clip is scored on its own (what the paper's ``ft.py`` reports: one
  random-start clip per video, original-code.md §4.1);
* **video-level**: the softmax scores of all clips (and crops) of a video are averaged, and
  the video is scored once (what ``test.py`` was meant to do).

**Contrastive accuracy** (StillMix, Li et al. ICCV 2023) pairs each video with a
counterfactual twin: the share of videos classified right on their SCUBA version (the actor on
another background) *and* wrong on their SCUFO twin (one frame repeated: the scene, no motion).
A model that reads the motion scores high; one that reads the scene gets both right or both wrong.

All percentages are in [0, 100]. Inputs may be tensors or NumPy arrays; logits may be raw
logits or log-probabilities (``softmax`` of either gives the same probabilities).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from ._inputs import as_logits

__all__ = [
    "topk_accuracy",
    "aggregate_clips",
    "video_level_logits",
    "video_labels",
    "confusion_matrix",
    "per_class_accuracy",
    "mean_class_accuracy",
    "plot_confusion",
    "ClassificationReport",
    "classification_report",
    "contrastive_accuracy",
]

Reduce = Literal["softmax_mean", "mean"]


def _as_index(x: Any, name: str, n: int | None = None) -> Tensor:
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got dtype {t.dtype}")
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} has {t.shape[0]} entries but there are {n} rows of scores")
    return t.long()


def _check_range(t: Tensor, name: str, num_classes: int) -> None:
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes}) (num_classes={num_classes}), "
            f"got values in [{int(t.min())}, {int(t.max())}]"
        )


def _as_preds(preds: Any, name: str = "preds") -> Tensor:
    """Class indices (N,), or scores (N, C) reduced by argmax."""
    t = preds.detach() if isinstance(preds, Tensor) else torch.as_tensor(np.asarray(preds))
    if t.dim() == 2:
        return t.argmax(dim=1)
    return _as_index(t, name)


# ----------------------------------------------------------------------------- top-k
@torch.no_grad()
def topk_accuracy(logits: Any, labels: Any, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Top-k accuracy (%): the label is among the k highest scores.

    Args:
        logits: (N, C) scores (logits, log-probabilities or probabilities).
        labels: (N,) integer labels in [0, C).
        ks: the k values, each ``1 <= k <= C``.

    Returns:
        ``{k: accuracy_percent}``. Ties in the scores are broken by ``torch.topk``.
    """
    x = as_logits(logits, "logits")
    y = _as_index(labels, "labels", x.shape[0]).to(x.device)
    n, c = x.shape
    if n == 0:
        raise ValueError("logits has no rows; nothing to score")
    _check_range(y, "labels", c)
    ks = list(ks)
    for k in ks:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= c:
            raise ValueError(f"k={k!r} must be an int in [1, {c}] (the number of classes in logits)")
    top = x.topk(max(ks), dim=1).indices  # (N, k_max)
    correct = (top == y[:, None]).cumsum(dim=1) > 0  # (N, k_max)
    n_correct = correct.sum(dim=0).tolist()  # exact integer counts
    return {int(k): n_correct[k - 1] / n * 100.0 for k in ks}


# ------------------------------------------------------------------ clip -> video scores
@torch.no_grad()
def video_level_logits(
    clip_logits: Any, video_index: Any, num_videos: int | None = None, reduce: Reduce = "softmax_mean"
) -> Tensor:
    """Average the clip scores of each video; ``video_index`` is already 0..V-1.

    Args:
        clip_logits: (N_clips, C) scores of every clip (and crop).
        video_index: (N_clips,) the video row (0..V-1) each clip belongs to.
        num_videos: V (default: ``video_index.max() + 1``); every video needs >= 1 clip.
        reduce: ``"softmax_mean"`` (mean of per-clip softmax probabilities, the paper's
            ``test.py`` and the usual multi-clip protocol) or ``"mean"`` (mean of the scores
            as given, e.g. of logits).

    Returns:
        (V, C) video scores: probabilities for ``"softmax_mean"``, mean scores for ``"mean"``.
    """
    x = as_logits(clip_logits, "clip_logits")
    idx = _as_index(video_index, "video_index", x.shape[0]).to(x.device)
    if x.shape[0] == 0:
        raise ValueError("clip_logits has no rows; nothing to aggregate")
    if int(idx.min()) < 0:
        raise ValueError(f"video_index must be >= 0, got {int(idx.min())}")
    v = int(idx.max()) + 1 if num_videos is None else int(num_videos)
    if int(idx.max()) >= v:
        raise ValueError(f"video_index has value {int(idx.max())} >= num_videos={v}")
    if reduce == "softmax_mean":
        scores = x.softmax(dim=1)
    elif reduce == "mean":
        scores = x
    else:
        raise ValueError(f"reduce must be 'softmax_mean' or 'mean', got {reduce!r}")
    total = torch.zeros(v, x.shape[1], dtype=scores.dtype, device=x.device).index_add_(0, idx, scores)
    count = torch.bincount(idx, minlength=v)  # (V,)
    if bool((count == 0).any()):
        missing = (count == 0).nonzero().flatten()[:10].tolist()
        raise ValueError(f"{int((count == 0).sum())} of {v} videos have no clips (e.g. video rows {missing})")
    return total / count[:, None].to(total.dtype)


@torch.no_grad()
def aggregate_clips(clip_logits: Any, video_ids: Any, reduce: Reduce = "softmax_mean") -> tuple[Tensor, Tensor]:
    """Per-video scores from per-clip scores, for arbitrary integer video ids.

    Args:
        clip_logits: (N_clips, C) scores of every clip (and crop) of every video.
        video_ids: (N_clips,) an integer id per clip; clips with the same id are averaged.
            Ids need not be contiguous or sorted.
        reduce: see :func:`video_level_logits`.

    Returns:
        ``(video_scores (V, C), ids (V,))`` with ``ids`` the sorted unique video ids, row v of
        ``video_scores`` belonging to ``ids[v]``.
    """
    x = as_logits(clip_logits, "clip_logits")
    vid = _as_index(video_ids, "video_ids", x.shape[0]).to(x.device)
    ids, inverse = torch.unique(vid, sorted=True, return_inverse=True)
    return video_level_logits(x, inverse, len(ids), reduce=reduce), ids


@torch.no_grad()
def video_labels(clip_labels: Any, video_ids: Any) -> tuple[Tensor, Tensor]:
    """One label per video from per-clip labels; ``ValueError`` if a video's clips disagree.

    Returns ``(labels (V,), ids (V,))`` in the same (sorted id) order as :func:`aggregate_clips`."""
    y = _as_index(clip_labels, "clip_labels")
    vid = _as_index(video_ids, "video_ids", y.shape[0]).to(y.device)
    ids, inverse = torch.unique(vid, sorted=True, return_inverse=True)
    lo = torch.full((len(ids),), torch.iinfo(torch.long).max, device=y.device).scatter_reduce(0, inverse, y, "amin")
    hi = torch.full((len(ids),), torch.iinfo(torch.long).min, device=y.device).scatter_reduce(0, inverse, y, "amax")
    bad = lo != hi
    if bool(bad.any()):
        raise ValueError(
            f"clips of the same video have different labels for {int(bad.sum())} videos "
            f"(e.g. video ids {ids[bad][:5].tolist()}); check the video ids"
        )
    return lo, ids


# --------------------------------------------------------- per-class and confusion matrix
@torch.no_grad()
def confusion_matrix(preds: Any, labels: Any, num_classes: int) -> Tensor:
    """(C, C) int64 counts; row = true class, column = predicted class.

    ``preds`` may be class indices (N,) or scores (N, C) (argmax is taken)."""
    p = _as_preds(preds)
    y = _as_index(labels, "labels", p.shape[0]).to(p.device)
    _check_range(p, "preds", num_classes)
    _check_range(y, "labels", num_classes)
    flat = y * num_classes + p
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


@torch.no_grad()
def per_class_accuracy(preds: Any, labels: Any, num_classes: int) -> Tensor:
    """(C,) float64 accuracy (%) of each true class; ``nan`` for classes absent from ``labels``."""
    cm = confusion_matrix(preds, labels, num_classes).double()
    support = cm.sum(dim=1)
    return torch.where(
        support > 0, cm.diagonal() / support.clamp(min=1) * 100.0, torch.full_like(support, float("nan"))
    )


@torch.no_grad()
def mean_class_accuracy(preds: Any, labels: Any, num_classes: int) -> float:
    """Mean over classes of the per-class accuracy (%).

    Classes that do not occur in ``labels`` are **excluded** from the mean (their accuracy is
    undefined); a class that is only predicted, never true, therefore does not count, though
    its false positives lower the accuracy of the true classes they were taken from.
    This is the paper's ``test.py`` metric (``np.mean(cls_acc)``) on the present classes."""
    acc = per_class_accuracy(preds, labels, num_classes)
    present = ~acc.isnan()
    if not bool(present.any()):
        raise ValueError("labels is empty; mean class accuracy is undefined")
    return float(acc[present].mean())


def plot_confusion(
    cm: Any,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    *,
    ax=None,
    annotate_threshold: float | None = 0.2,
    title: str | None = None,
):
    """Confusion matrix as an image (rows = true class), returning the matplotlib Figure.

    Args:
        cm: (C, C) counts, e.g. from :func:`confusion_matrix`.
        class_names: C names for the ticks (ticks are thinned above 40 classes).
        normalize: divide each row by its total (rows without samples stay 0), so the
            diagonal is the per-class accuracy (as the paper's ``confusion_matrix.py``).
        ax: draw into this Axes instead of a new figure.
        annotate_threshold: write the value of off-diagonal cells above this (normalised)
            value, i.e. the main confusions; ``None`` writes nothing.
        title: axes title.
    """
    import matplotlib.pyplot as plt

    from tbe_lib.viz.style import LABEL_PT, PAGE_WIDTH_IN

    m = (cm.detach().cpu().numpy() if isinstance(cm, Tensor) else np.asarray(cm)).astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {m.shape}")
    c = m.shape[0]
    if class_names is not None and len(class_names) != c:
        raise ValueError(f"class_names has {len(class_names)} names for a {c}x{c} confusion matrix")
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    if ax is None:
        size = min(4 + 0.25 * c, 0.75 * PAGE_WIDTH_IN)
        fig, ax = plt.subplots(figsize=(size, size * 0.9))
    else:
        fig = ax.figure
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class" if normalize else "count")
    step = max(1, int(np.ceil(c / 40)))
    ticks = np.arange(0, c, step)
    names = [str(i) for i in range(c)] if class_names is None else list(class_names)
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90, fontsize=LABEL_PT)
    ax.set_yticks(ticks, [names[i] for i in ticks], fontsize=LABEL_PT)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if annotate_threshold is not None:
        off = ~np.eye(c, dtype=bool) & (m > annotate_threshold)
        for i, j in zip(*np.nonzero(off)):
            ax.text(
                j,
                i,
                f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}",
                ha="center",
                va="center",
                fontsize=LABEL_PT,
                color="white" if m[i, j] > 0.5 * m.max() else "black",
            )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------- report
@dataclass
class ClassificationReport:
    """Clip-level and video-level accuracy (%) of one evaluation.

    ``clip_*``: each clip scored on its own. ``video_*``: softmax mean over all clips (and
    crops) of a video, scored once per video. ``mean_class_acc`` is video-level, over the
    classes present in the labels. Top-5 is ``None`` when there are fewer than 5 classes."""

    clip_top1: float
    clip_top5: float | None
    video_top1: float
    video_top5: float | None
    mean_class_acc: float
    n_videos: int
    n_clips: int

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    def __str__(self) -> str:
        def pct(v: float | None) -> str:
            return "  n/a " if v is None else f"{v:6.2f}"

        per = self.n_clips / max(self.n_videos, 1)
        return (
            f"clip-level  ({self.n_clips} clips, each scored alone):          "
            f"top-1 {pct(self.clip_top1)}%  top-5 {pct(self.clip_top5)}%\n"
            f"video-level ({self.n_videos} videos, softmax mean of {per:.1f} clips each): "
            f"top-1 {pct(self.video_top1)}%  top-5 {pct(self.video_top5)}%  "
            f"mean class acc {pct(self.mean_class_acc)}%"
        )


@torch.no_grad()
def classification_report(
    clip_logits: Any, clip_labels: Any, video_ids: Any, *, reduce: Reduce = "softmax_mean"
) -> ClassificationReport:
    """All of the above from one pass over the test set.

    Args:
        clip_logits: (N_clips, C) scores of every clip (and crop).
        clip_labels: (N_clips,) labels (must agree within a video).
        video_ids: (N_clips,) the video each clip comes from.
        reduce: how clips are averaged into a video (see :func:`video_level_logits`).
    """
    x = as_logits(clip_logits, "clip_logits")
    y = _as_index(clip_labels, "clip_labels", x.shape[0]).to(x.device)
    c = x.shape[1]
    ks = (1, 5) if c >= 5 else (1,)
    clip = topk_accuracy(x, y, ks)
    v_scores, ids = aggregate_clips(x, video_ids, reduce=reduce)
    v_labels, _ = video_labels(y, video_ids)
    video = topk_accuracy(v_scores, v_labels.to(v_scores.device), ks)
    return ClassificationReport(
        clip_top1=clip[1],
        clip_top5=clip.get(5),
        video_top1=video[1],
        video_top5=video.get(5),
        mean_class_acc=mean_class_accuracy(v_scores.argmax(dim=1), v_labels.to(v_scores.device), c),
        n_videos=len(ids),
        n_clips=x.shape[0],
    )


# -------------------------------------------------------------------- counterfactual pairs
@torch.no_grad()
def contrastive_accuracy(scuba_preds: Any, scufo_preds: Any, labels: Any, scufo_labels: Any = None) -> float:
    """Contrastive accuracy (%): the share of pairs right on the SCUBA video and wrong on its
    SCUFO twin. Pair ``i`` is row ``i`` of both predictions (class indices (N,), or scores
    (N, C) reduced by argmax); ``labels`` (N,) are the SCUBA videos' labels, ``scufo_labels``
    (default: ``labels``) the twins', which must be the same (a pair is one video twice)."""
    a, b = _as_preds(scuba_preds, "scuba_preds"), _as_preds(scufo_preds, "scufo_preds")
    y = _as_index(labels, "labels", a.shape[0])
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"scufo_preds has {b.shape[0]} rows but scuba_preds {a.shape[0]}: a pair is one row of each")
    if scufo_labels is not None:
        y2 = _as_index(scufo_labels, "scufo_labels", a.shape[0])
        if bool((y2 != y).any()):
            i = int((y2 != y).nonzero()[0])
            raise ValueError(
                f"pair {i} has label {int(y[i])} on the SCUBA side and {int(y2[i])} on the SCUFO side: "
                "the two lists must hold the same videos in the same order"
            )
    if a.shape[0] == 0:
        raise ValueError("no pairs; contrastive accuracy is undefined")
    hit = (a.cpu() == y.cpu()) & (b.cpu() != y.cpu())
    return float(hit.float().mean() * 100.0)
