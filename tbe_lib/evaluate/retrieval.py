"""Nearest-neighbour video retrieval: Recall@k with cosine similarity (the paper's protocol).

Protocol (original code ``reterival.py``, see original-code.md §4.2): the *query* set is the
test split, the *gallery* is the train split; for each query the gallery is ranked by
cosine distance and a query is a hit at k if **any** of its k nearest gallery items has the
query's label. ``R@k = hits / #queries × 100``.

Here the features are L2-normalised and the ranking is by cosine similarity (the same order
as ascending cosine distance), computed in chunks of queries so that a large gallery fits in
(GPU) memory: a chunk costs ``chunk_size × N_gallery`` similarities.

Zero feature vectors have similarity 0 to everything (as in scikit-learn's
``cosine_distances``, which gives them distance 1).

Ties: the k nearest items come from ``torch.topk``; among gallery items with exactly equal
similarity, which one is returned (and in what order) is unspecified and may differ between
CPU and GPU, and from NumPy's ``argsort``. With real-valued features exact ties only happen
for duplicated gallery vectors, where it matters only if the duplicates carry different labels.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._inputs import as_features, as_labels

__all__ = ["retrieval_neighbours", "retrieval_recall", "DEFAULT_KS"]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20, 50)


def _check_pair(query_feats: Tensor, gallery_feats: Tensor) -> None:
    if query_feats.shape[1] != gallery_feats.shape[1]:
        raise ValueError(
            f"query and gallery features differ in dimension: query_feats {tuple(query_feats.shape)}, "
            f"gallery_feats {tuple(gallery_feats.shape)} (both must be (N, D) with the same D)"
        )
    if gallery_feats.shape[0] == 0:
        raise ValueError("the gallery is empty (gallery_feats has 0 rows)")


def _check_k(k: int, n_gallery: int) -> None:
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > n_gallery:
        raise ValueError(f"k={k} is larger than the gallery size ({n_gallery} items); use k <= {n_gallery}")


def _topk_cosine(q: Tensor, g: Tensor, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    """Top-k cosine similarities of each row of ``q`` (Nq, D) among rows of ``g`` (Ng, D).

    Both on the same device. Returns ``(indices (Nq, k) int64, similarities (Nq, k))``,
    most similar first."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = torch.promote_types(q.dtype, g.dtype)
    q = F.normalize(q.to(dtype), dim=1)
    g_t = F.normalize(g.to(dtype), dim=1).t().contiguous()  # (D, Ng)
    idx = torch.empty(q.shape[0], k, dtype=torch.long, device=q.device)
    sim = torch.empty(q.shape[0], k, dtype=dtype, device=q.device)
    for start in range(0, q.shape[0], chunk_size):
        s = q[start : start + chunk_size] @ g_t  # (chunk, Ng)
        top = torch.topk(s, k, dim=1, largest=True, sorted=True)
        sim[start : start + chunk_size] = top.values
        idx[start : start + chunk_size] = top.indices
    return idx, sim


@torch.no_grad()
def retrieval_neighbours(
    query_feats: Any,
    gallery_feats: Any,
    k: int = 5,
    *,
    chunk_size: int = 4096,
    device: torch.device | str | None = None,
    return_similarity: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Indices of the ``k`` most cosine-similar gallery items for every query.

    Args:
        query_feats: (Nq, D) tensor or array.
        gallery_feats: (Ng, D) tensor or array.
        k: neighbours per query, ``1 <= k <= Ng``.
        chunk_size: queries per similarity block (memory: ``chunk_size × Ng`` values).
        device: where to compute (default: the device of ``query_feats``).
        return_similarity: also return the cosine similarities.

    Returns:
        ``indices`` (Nq, k) int64, nearest first, on ``device``; with
        ``return_similarity`` the tuple ``(indices, similarities (Nq, k))``.

    Raises:
        ValueError: non-2-D features, different D, or ``k`` larger than the gallery.
    """
    q = as_features(query_feats, "query_feats")
    dev = torch.device(device) if device is not None else q.device
    q = q.to(dev)
    g = as_features(gallery_feats, "gallery_feats", dev)
    _check_pair(q, g)
    _check_k(k, g.shape[0])
    idx, sim = _topk_cosine(q, g, k, chunk_size)
    return (idx, sim) if return_similarity else idx


@torch.no_grad()
def retrieval_recall(
    query_feats: Any,
    query_labels: Any,
    gallery_feats: Any,
    gallery_labels: Any,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    chunk_size: int = 4096,
    device: torch.device | str | None = None,
) -> dict[int, float]:
    """Recall@k (%) of cosine nearest-neighbour retrieval, the paper's protocol.

    A query is a hit at k if at least one of its k most cosine-similar gallery items has the
    query's label; ``R@k`` is the percentage of hit queries. Query = test split, gallery =
    train split in the paper.

    Args:
        query_feats: (Nq, D) features (tensor or array), e.g. test-split clip features.
        query_labels: (Nq,) integer labels.
        gallery_feats: (Ng, D) features, e.g. train-split clip features.
        gallery_labels: (Ng,) integer labels.
        ks: the k values; each must satisfy ``1 <= k <= Ng``.
        chunk_size: queries per similarity block (memory: ``chunk_size × Ng`` values).
        device: where to compute (default: the device of ``query_feats``).

    Returns:
        ``{k: recall_percent}`` for each k in ``ks``, in the order given.

    Raises:
        ValueError: non-2-D features, different feature dimensions, labels whose length does
            not match their features, an empty ``ks``, or a k larger than the gallery.
    """
    ks = list(ks)
    if not ks:
        raise ValueError("ks is empty; give at least one k, e.g. ks=(1, 5, 10, 20, 50)")
    q = as_features(query_feats, "query_feats")
    dev = torch.device(device) if device is not None else q.device
    q = q.to(dev)
    g = as_features(gallery_feats, "gallery_feats", dev)
    _check_pair(q, g)
    ql = as_labels(query_labels, "query_labels", q.shape[0], dev)
    gl = as_labels(gallery_labels, "gallery_labels", g.shape[0], dev)
    for k in ks:
        _check_k(k, g.shape[0])
    ks = [int(k) for k in ks]
    if q.shape[0] == 0:
        raise ValueError("there are no queries (query_feats has 0 rows)")

    k_max = max(ks)
    idx, _ = _topk_cosine(q, g, k_max, chunk_size)  # (Nq, k_max), nearest first
    hits = gl[idx] == ql[:, None]  # (Nq, k_max): neighbour j has the query's label
    hit_within = hits.cumsum(dim=1) > 0  # (Nq, k_max): any hit among the first j+1
    n_hits = hit_within.sum(dim=0).tolist()  # (k_max,) exact integer counts
    return {k: n_hits[k - 1] / q.shape[0] * 100.0 for k in ks}
