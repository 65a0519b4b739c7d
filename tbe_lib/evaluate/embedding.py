"""2-D embeddings of features (t-SNE, UMAP, PCA) and their scatter plots.

The paper's ``t_SNE_Visualization.py`` imported the private ``sklearn.manifold.t_sne`` module
and used ``np.int`` (original-code.md §5), so it no longer runs; this module uses only the
public ``sklearn.manifold.TSNE`` / ``sklearn.decomposition.PCA`` API with a fixed
``random_state``. The palette is seaborn's ``hls`` (as in the paper's figure), computed
here with ``colorsys`` so that seaborn is not needed.

:func:`plot_embedding_pair` draws the same points twice, coloured by action class and by
background photograph: clusters that follow the backgrounds rather than the classes show a
representation that learned the background shortcut.
"""

from __future__ import annotations

import colorsys
from typing import Any, Literal, Sequence

import numpy as np
import torch

__all__ = ["embed_2d", "hls_palette", "plot_embedding", "plot_embedding_pair"]


def _features_np(feats: Any) -> np.ndarray:
    x = feats.detach().cpu().float().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"feats must be 2-D (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("feats contains NaN or inf values")
    return x


def embed_2d(
    feats: Any,
    method: Literal["tsne", "umap", "pca"] = "tsne",
    seed: int = 0,
    *,
    l2_normalize: bool = False,
    perplexity: float = 30.0,
) -> np.ndarray:
    """Project (N, D) features to (N, 2) coordinates, deterministic given ``seed``.

    Args:
        feats: (N, D) features (tensor or array), N >= 3 (t-SNE/UMAP) or >= 2 (PCA).
        method: ``"tsne"`` (scikit-learn, PCA initialisation), ``"umap"`` (needs the
            optional ``umap-learn`` package) or ``"pca"``.
        seed: ``random_state`` of the method.
        l2_normalize: L2-normalise the rows first, so distances follow the cosine geometry
            of retrieval/kNN (the paper's t-SNE used raw features; default off).
        perplexity: t-SNE perplexity, lowered to ``(N - 1) / 3`` for small N.

    Returns:
        (N, 2) float ndarray.
    """
    x = _features_np(feats)
    n = x.shape[0]
    if l2_normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    if method == "pca":
        from sklearn.decomposition import PCA

        if n < 2:
            raise ValueError(f"PCA needs at least 2 samples, got {n}")
        if x.shape[1] < 2:
            raise ValueError(f"PCA to 2-D needs features with >= 2 dimensions, got {x.shape[1]}")
        return PCA(n_components=2, svd_solver="full", random_state=seed).fit_transform(x).astype(np.float64)
    if n < 3:
        raise ValueError(f"{method} needs at least 3 samples, got {n}")
    if method == "tsne":
        from sklearn.manifold import TSNE

        p = min(float(perplexity), (n - 1) / 3.0)
        return TSNE(n_components=2, perplexity=p, init="pca", random_state=seed).fit_transform(x).astype(np.float64)
    if method == "umap":
        try:
            import umap  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImportError(
                "method='umap' needs the optional package umap-learn (pip install umap-learn); "
                "use method='tsne' or method='pca' without it"
            ) from e
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed)
        return np.asarray(reducer.fit_transform(x), dtype=np.float64)
    raise ValueError(f"method must be 'tsne', 'umap' or 'pca', got {method!r}")


def hls_palette(n: int, h: float = 0.01, lightness: float = 0.6, s: float = 0.65) -> list[tuple[float, float, float]]:
    """``n`` evenly spaced hues (seaborn's ``hls_palette`` defaults), as RGB tuples."""
    hues = (np.linspace(0, 1, n + 1)[:-1] + h) % 1
    return [colorsys.hls_to_rgb(float(hh), lightness, s) for hh in hues]


def plot_embedding(
    xy: Any,
    labels: Any,
    *,
    names: Sequence[str] | dict[int, str] | None = None,
    title: str | None = None,
    ax=None,
    point_size: float = 10.0,
    annotate: bool = True,
    legend: bool | None = None,
):
    """Scatter of 2-D points coloured by a categorical label; returns the matplotlib Figure.

    Args:
        xy: (N, 2) coordinates, e.g. from :func:`embed_2d`.
        labels: (N,) integer (or any sortable) category per point.
        names: display names, indexed by label value (sequence) or a ``{label: name}`` dict.
        title: axes title.
        ax: draw into this Axes instead of a new figure.
        point_size: marker area.
        annotate: write each category's name at the median of its points (as the paper's
            t-SNE figure did), for the categories that form a cluster: whose points lie, on
            median, at less than half the typical distance of all points from their median
            (names of unclustered categories would pile up in the middle; the legend has them).
        legend: draw a legend (default: when there are at most 20 categories).
    """
    import matplotlib.pyplot as plt

    from tbe_lib.viz.style import LABEL_PT, PAGE_WIDTH_IN

    pts = np.asarray(xy.detach().cpu() if isinstance(xy, torch.Tensor) else xy, dtype=np.float64)
    lab = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"xy must have shape (N, 2), got {pts.shape}")
    if lab.shape != (pts.shape[0],):
        raise ValueError(f"labels must have shape ({pts.shape[0]},) to match xy, got {lab.shape}")
    cats = np.unique(lab)
    colours = hls_palette(len(cats))

    def name(c: Any) -> str:
        if names is None:
            return str(c)
        key = c.item() if isinstance(c, np.generic) else c  # numpy scalar -> Python int/str
        if isinstance(names, dict):
            return str(names.get(key, key))
        return str(names[int(key)])

    if ax is None:
        fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN * 0.6, PAGE_WIDTH_IN * 0.6))
    else:
        fig = ax.figure
    spread = np.median(np.linalg.norm(pts - np.median(pts, axis=0), axis=1))
    for c, colour in zip(cats, colours):
        m = lab == c
        ax.scatter(pts[m, 0], pts[m, 1], s=point_size, color=colour, label=name(c), linewidths=0, alpha=0.85)
        centre = np.median(pts[m], axis=0)
        if annotate and np.median(np.linalg.norm(pts[m] - centre, axis=1)) < 0.5 * spread:
            mx, my = centre
            ax.text(
                mx,
                my,
                name(c),
                fontsize=LABEL_PT,
                ha="center",
                va="center",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=colour, alpha=0.7, lw=0.8),
            )
    if legend if legend is not None else len(cats) <= 20:
        ax.legend(fontsize=LABEL_PT, markerscale=1.5, loc="best", frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def plot_embedding_pair(
    xy: Any,
    class_labels: Any,
    background_labels: Any,
    *,
    class_names: Sequence[str] | dict[int, str] | None = None,
    background_names: Sequence[str] | dict[int, str] | None = None,
    title: str | None = None,
    point_size: float = 10.0,
):
    """The same embedding twice, side by side: coloured by action class | by background.

    If the right panel shows tidy clusters and the left one does not, the representation
    groups videos by their background photograph: the shortcut BE is meant to remove."""
    import matplotlib.pyplot as plt

    from tbe_lib.viz.style import PAGE_WIDTH_IN

    fig, (a, b) = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, PAGE_WIDTH_IN / 2 + 0.3))
    plot_embedding(xy, class_labels, names=class_names, ax=a, title="coloured by action class", point_size=point_size)
    plot_embedding(
        xy, background_labels, names=background_names, ax=b, title="coloured by background", point_size=point_size
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
