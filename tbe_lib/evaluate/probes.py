"""Probes on frozen features: a linear (logistic-regression) probe, the background probe, kNN.

The linear probe is scikit-learn's ``LogisticRegression`` (L2, lbfgs) on standardised
features. For our sizes (<= ~10^4 clips × <= 2048 dims) it solves the convex problem to
tolerance in seconds on a CPU, has no learning rate / epochs / batch size to tune, and is
deterministic (lbfgs has no randomness; ``seed`` only fixes the validation split used to
choose ``C``). A torch SGD probe would only pay off for Kinetics-sized feature sets.

The **background probe** is the same probe trained to predict which background photograph
a video was composed on (the synthetic dataset knows it) instead of the action class. It is
the direct measure of the background shortcut: a representation that ignores the background
scores near chance, one that encodes it scores high.

The kNN classifier uses cosine similarity, computed in torch in chunks (same code as the
retrieval metric).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from ._inputs import as_features, as_labels
from .retrieval import _check_k, _check_pair, _topk_cosine

__all__ = ["ProbeResult", "linear_probe", "background_probe", "knn_predict", "knn_accuracy"]


@dataclass
class ProbeResult:
    """Outcome of a probe; all rates in percent.

    Attributes:
        accuracy: test accuracy of the probe.
        chance: ``100 / num_classes`` (uniform guessing over the classes seen in training).
        majority: test accuracy of always predicting the most frequent training label
            (the smallest such label on ties).
        C: the inverse L2 strength used for the final fit.
        val_accuracy: ``{C: held-out accuracy}`` when a grid of C was searched, else ``{}``.
        num_classes: distinct labels in the training set.
        n_train, n_test: sample counts.
        target: what was predicted (``"class"`` or ``"background"``).
        converged: whether lbfgs converged within ``max_iter``.
        predictions: (n_test,) predicted labels (in the caller's label values).
    """

    accuracy: float
    chance: float
    majority: float
    C: float
    num_classes: int
    n_train: int
    n_test: int
    target: str = "class"
    converged: bool = True
    val_accuracy: dict[float, float] = field(default_factory=dict)
    predictions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: getattr(self, k)
            for k in ("accuracy", "chance", "majority", "C", "num_classes", "n_train", "n_test", "target", "converged")
        }
        d["val_accuracy"] = {str(k): v for k, v in self.val_accuracy.items()}
        return d

    def __str__(self) -> str:
        return (
            f"{self.target} probe: {self.accuracy:.2f}% on {self.n_test} test samples "
            f"(chance {self.chance:.2f}%, majority {self.majority:.2f}%, {self.num_classes} {self.target} labels, "
            f"C={self.C:g}{'' if self.converged else ', NOT converged'})"
        )


def _to_numpy(feats: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    x = as_features(feats, f"{name}_feats").cpu().numpy()
    y = as_labels(labels, f"{name}_labels", x.shape[0]).cpu().numpy()
    if x.shape[0] == 0:
        raise ValueError(f"{name}_feats has no rows")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}_feats contains NaN or inf values")
    return x, y


def _fit_logreg(x: np.ndarray, y: np.ndarray, C: float, max_iter: int, seed: int):
    """Standardise + multinomial logistic regression; returns (pipeline, converged)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, converged


def linear_probe(
    train_feats: Any,
    train_labels: Any,
    test_feats: Any,
    test_labels: Any,
    *,
    C: float | Sequence[float] = 1.0,
    val_fraction: float = 0.2,
    max_iter: int = 1000,
    seed: int = 0,
    target: str = "class",
) -> ProbeResult:
    """Logistic-regression probe on frozen features (standardised with train statistics).

    Args:
        train_feats, test_feats: (N, D) features (tensors or arrays).
        train_labels, test_labels: (N,) integer labels.
        C: inverse L2 regularisation strength, or a grid of values: then ``val_fraction`` of
            the training set (stratified when every class has >= 2 samples; split with
            ``seed``) picks the C with the best held-out accuracy (the smallest C on ties),
            and the probe is refitted on the whole training set with it. The test set is
            never used for the choice.
        val_fraction: held-out share of the training set for the C search.
        max_iter: lbfgs iterations; ``ProbeResult.converged`` says whether it sufficed.
        seed: fixes the validation split (the fit itself is deterministic).
        target: a name for what the labels are, used in the printed result.

    Returns:
        :class:`ProbeResult`. Test labels never seen in training count as errors.
    """
    xtr, ytr = _to_numpy(train_feats, train_labels, "train")
    xte, yte = _to_numpy(test_feats, test_labels, "test")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train_feats {xtr.shape} and test_feats {xte.shape} differ in feature dimension")
    classes, counts = np.unique(ytr, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"the training labels hold a single {target} label ({classes.tolist()}); a probe needs >= 2")

    grid = [float(C)] if np.isscalar(C) else [float(c) for c in C]
    if not grid or any(c <= 0 for c in grid):
        raise ValueError(f"C must be a positive float or a non-empty list of them, got {C!r}")
    val_acc: dict[float, float] = {}
    if len(grid) > 1:
        from sklearn.model_selection import train_test_split

        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        stratify = ytr if counts.min() >= 2 and round(val_fraction * len(ytr)) >= len(classes) else None
        xa, xv, ya, yv = train_test_split(xtr, ytr, test_size=val_fraction, random_state=seed, stratify=stratify)
        if len(np.unique(ya)) < 2:
            raise ValueError("the C-search training part holds a single label; use a single C or more data")
        for c in grid:
            model, _ = _fit_logreg(xa, ya, c, max_iter, seed)
            val_acc[c] = float((model.predict(xv) == yv).mean() * 100.0)
        best = max(val_acc.values())
        chosen = min(c for c, a in val_acc.items() if a == best)
    else:
        chosen = grid[0]

    model, converged = _fit_logreg(xtr, ytr, chosen, max_iter, seed)
    pred = model.predict(xte)
    majority_label = classes[np.argmax(counts)]
    return ProbeResult(
        accuracy=float((pred == yte).mean() * 100.0),
        chance=100.0 / len(classes),
        majority=float((yte == majority_label).mean() * 100.0),
        C=chosen,
        num_classes=len(classes),
        n_train=len(ytr),
        n_test=len(yte),
        target=target,
        converged=converged,
        val_accuracy=val_acc,
        predictions=pred,
    )


def background_probe(
    train_feats: Any, train_backgrounds: Any, test_feats: Any, test_backgrounds: Any, **probe_kwargs: Any
) -> ProbeResult:
    """Linear probe predicting the **background photograph id** instead of the action class.

    High means the representation encodes the background: the direct measure of the
    background shortcut that BE is meant to remove. Compare ``accuracy`` with the reported
    chance levels, ``chance`` (100 / #backgrounds) and ``majority`` (always the most frequent
    training background). The train and test videos must share backgrounds (split by video,
    not by background), otherwise the test backgrounds are never seen and the probe cannot
    score above 0.

    Args:
        train_feats, test_feats: (N, D) frozen features.
        train_backgrounds, test_backgrounds: (N,) integer background ids.
        **probe_kwargs: passed on to :func:`linear_probe` (``C``, ``max_iter``, ``seed``, ...).
    """
    probe_kwargs.setdefault("target", "background")
    return linear_probe(train_feats, train_backgrounds, test_feats, test_backgrounds, **probe_kwargs)


@torch.no_grad()
def knn_predict(
    train_feats: Any,
    train_labels: Any,
    test_feats: Any,
    k: int = 20,
    *,
    weighting: Literal["majority", "similarity"] = "majority",
    temperature: float = 0.07,
    chunk_size: int = 4096,
    device: torch.device | str | None = None,
) -> Tensor:
    """Cosine kNN predictions (N_test,) in the caller's label values.

    Votes of the ``k`` most cosine-similar training samples:

    * ``"majority"``: one vote each; a tie between classes goes to the smallest label.
    * ``"similarity"``: each neighbour votes ``exp(cos / temperature)`` (the weighted kNN of
      Wu et al. 2018, used by DINO), so closer neighbours count more and ties are rare.
    """
    xtr = as_features(train_feats, "train_feats")
    dev = torch.device(device) if device is not None else xtr.device
    xtr = xtr.to(dev)
    xte = as_features(test_feats, "test_feats", dev)
    ytr = as_labels(train_labels, "train_labels", xtr.shape[0], dev)
    _check_pair(xte, xtr)
    _check_k(k, xtr.shape[0])
    if xte.shape[0] == 0:
        raise ValueError("test_feats has no rows; nothing to classify")
    classes, ytr_idx = torch.unique(ytr, sorted=True, return_inverse=True)  # contiguous 0..K-1
    idx, sim = _topk_cosine(xte, xtr, k, chunk_size)  # (N_test, k)
    if weighting == "majority":
        w = torch.ones_like(sim)
    elif weighting == "similarity":
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        w = torch.exp(sim / temperature)
    else:
        raise ValueError(f"weighting must be 'majority' or 'similarity', got {weighting!r}")
    votes = torch.zeros(xte.shape[0], len(classes), dtype=w.dtype, device=dev)
    votes.scatter_add_(1, ytr_idx[idx], w)  # (N_test, K)
    return classes[votes.argmax(dim=1)]  # argmax returns the first maximum -> smallest label on ties


@torch.no_grad()
def knn_accuracy(
    train_feats: Any, train_labels: Any, test_feats: Any, test_labels: Any, k: int = 20, **options: Any
) -> float:
    """Accuracy (%) of the cosine kNN classifier of :func:`knn_predict` on the test set
    (``options``: ``weighting``, ``temperature``, ``chunk_size``, ``device``, as there)."""
    pred = knn_predict(train_feats, train_labels, test_feats, k, **options)
    yte = as_labels(test_labels, "test_labels", pred.shape[0], pred.device)
    return int((pred == yte).sum()) / pred.shape[0] * 100.0
