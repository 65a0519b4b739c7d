"""Retrieval and frozen-feature probes: ``tbe retrieve --checkpoint RUN/encoder.pt``.

From one set of per-video features (see :mod:`tbe_lib.features`, cached to disk):

* **Recall@k** (the paper's protocol, original-code.md §4.2): query = each test split,
  gallery = the training split, cosine similarity, hit if any of the k nearest gallery videos
  has the query's label;
* **kNN accuracy** (cosine, majority vote) and a **linear probe** (logistic regression on the
  frozen features, trained on the training split) per test split;
* on the embedded benchmark, the **background probe**: a linear classifier that predicts the
  background photograph's id from frozen features, trained and tested on the two halves of
  the class-independent ``train_unbiased`` split. High means the representation encodes the
  background: the direct measure of the shortcut. Chance levels are reported beside it;
* on the embedded benchmark, the **motion probe**: a linear probe trained on ``motion_split``
  (``train_unbiased``: backgrounds independent of the class) and tested on every test split. The
  linear probe above is trained on the background-biased ``train``, so it may read the
  background; this one asks whether the motion is decodable at all from the features;
* **counterfactual tests** (StillMix, Li et al. ICCV 2023): for each of ``scufo_splits``
  (``test_shift``: the actor on a background unrelated to its class, the SCUBA analogue), the
  probes trained on normal clips are scored on the videos' SCUFO twins (each video's middle
  frame repeated for the whole clip: :func:`~tbe_lib.features.scufo_clips`), with the
  **contrastive accuracy** (right on the video and wrong on its twin); ``extra_tests`` are more
  query lists (name -> list file, e.g. SCUBA / SCUFO / HAT lists), scored like the test splits,
  and ``contrastive_pairs`` (SCUBA name -> SCUFO name) pairs two of them row by row;
* a 2-D embedding (t-SNE) of ``train_unbiased`` coloured by class and by background.

Writes ``OUT/retrieval.json`` and ``OUT/embedding.png``; features go to ``OUT/features/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import add_data_flags, add_device_flags, add_stage_parser, check_number
from .data.listfile import resolve_list
from .finetune import check_counterfactuals, name_value_pairs

__all__ = ["RetrievalConfig", "retrieve", "load_model_for_features", "add_cli"]


@dataclass
class RetrievalConfig:
    """What to extract and evaluate. ``checkpoint=None`` evaluates a randomly initialised
    ``backbone`` (the Random-init row)."""

    out_dir: str = "runs/retrieval"
    checkpoint: str | None = None
    backbone: str = "r3d_tiny"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "data/synth"
    root: str | None = None
    gallery_split: str = "train"
    query_splits: tuple[str, ...] = ("test_same", "test_shift")
    background_split: str | None = "train_unbiased"  # None: no background probe
    motion_split: str | None = "train_unbiased"  # None: no motion probe (skipped too when its list is missing)
    scufo_splits: tuple[str, ...] = ()  # query splits whose SCUFO twins the probes score
    extra_tests: dict[str, str] = field(default_factory=dict)  # name -> list file, queried like a test split
    contrastive_pairs: dict[str, str] = field(default_factory=dict)  # SCUBA test -> SCUFO twin (extra_tests)
    frames: int = 8
    stride: int = 1
    size: int = 32
    num_clips: int = 4
    head: bool = False
    ks: tuple[int, ...] = (1, 5, 10, 20, 50)
    knn_k: int = 10
    # Inverse L2 strengths the linear probes choose from, on a held-out fifth of their training
    # set (never the test set): one C for every representation under-fits some and over-fits
    # others (with C = 1 a 128-d probe on 800 videos fits noise).
    probe_c: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
    batch_size: int = 64
    workers: int = 2
    device: str = "auto"
    embedding: str | None = "tsne"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("frames", "stride", "size", "num_clips", "knn_k", "batch_size"):
            check_number("retrieve", name, getattr(self, name), minimum=1, integer=True)
        check_number("retrieve", "workers", self.workers, minimum=0, integer=True)
        if not self.ks:
            raise ValueError("retrieve: ks is empty; give at least one k, e.g. --ks 1 5 10")
        for k in self.ks:
            check_number("retrieve", "every k of ks", k, minimum=1, integer=True)
        check_counterfactuals(
            "retrieve", self.query_splits, self.scufo_splits, self.extra_tests, self.contrastive_pairs
        )


def load_model_for_features(checkpoint: str | None, backbone: str, backbone_kwargs: dict[str, Any], seed: int = 0):
    """The model whose features are evaluated: rebuilt from a checkpoint's recorded
    architecture (pretraining ``encoder.pt`` or finetuning ``model.pt``), or random."""
    from .models import build_model, model_from_checkpoint

    if checkpoint:
        return model_from_checkpoint(checkpoint)
    torch.manual_seed(seed)
    return build_model(backbone, head=None, **backbone_kwargs)


def _background_ids(data: str, split: str, paths: list[str]) -> torch.Tensor | None:
    meta_file = Path(data) / "metadata.csv"
    if not meta_file.is_file():
        return None
    import pandas as pd

    df = pd.read_csv(meta_file, usecols=["split", "path", "background_id"])
    m = dict(zip(df.path[df.split == split], df.background_id[df.split == split]))
    return torch.tensor([int(m[p]) for p in paths])


def _optional_list(data: str, split: str | None) -> Path | None:
    """The list of ``split`` in ``data``, or ``None`` when there is none (or no split)."""
    if not split:
        return None
    try:
        return resolve_list(data, split)
    except FileNotFoundError:
        return None


def _probe_predictions(train, tests: dict[str, Any], seed: int, C: tuple[float, ...]) -> dict[str, Any]:
    """One linear probe fitted on the FeatureSet ``train``, its predictions (numpy (N,)) on each
    FeatureSet of ``tests`` (one fit: :func:`~tbe_lib.evaluate.linear_probe` on the tests together)."""
    from .evaluate import linear_probe

    names = list(tests)
    feats = torch.cat([tests[n].feats for n in names])
    labels = torch.cat([tests[n].labels for n in names])
    pred = linear_probe(train.feats, train.labels, feats, labels, C=list(C), seed=seed).predictions
    out, start = {}, 0
    for n in names:
        out[n], start = pred[start : start + len(tests[n].labels)], start + len(tests[n].labels)
    return out


def _accuracy(pred: Any, labels: torch.Tensor) -> float:
    return float((pred == labels.numpy()).mean() * 100.0)


def _counterfactuals(
    cfg: RetrievalConfig, probes: dict[str, dict[str, Any]], queries: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``scufo[split][probe]`` and ``scufo[split][f"contrastive_{probe}"]`` for each SCUFO split
    (``queries[f"scufo_{split}"]`` holds its twins), ``pairs[scuba]`` for each contrastive pair,
    from each probe's predictions (``probes[probe][name]``)."""
    from .evaluate import contrastive_accuracy

    scufo: dict[str, Any] = {}
    for split in cfg.scufo_splits:
        q, twin = queries[split], queries[f"scufo_{split}"]
        if not torch.equal(q.indices, twin.indices):
            raise ValueError(f"{split}: the features of its videos and of their SCUFO twins are in different orders")
        scufo[split] = {}
        for probe, preds in probes.items():
            scufo[split][probe] = _accuracy(preds[f"scufo_{split}"], twin.labels)
            scufo[split][f"contrastive_{probe}"] = contrastive_accuracy(preds[split], preds[f"scufo_{split}"], q.labels)
    pairs: dict[str, Any] = {}
    for scuba, twin_name in cfg.contrastive_pairs.items():
        a, b = queries[scuba], queries[twin_name]
        pairs[scuba] = {"scufo": twin_name}
        for probe, preds in probes.items():
            try:
                pairs[scuba][f"contrastive_{probe}"] = contrastive_accuracy(
                    preds[scuba], preds[twin_name], a.labels, b.labels
                )
            except ValueError as e:
                raise ValueError(f"{cfg.extra_tests[scuba]} / {cfg.extra_tests[twin_name]}: {e}") from None
    return scufo, pairs


def retrieve(cfg: RetrievalConfig, *, progress: bool = False) -> dict[str, Any]:
    """Run the evaluation of the module docstring; returns (and writes) the results dict."""
    from .evaluate import background_probe, embed_2d, knn_accuracy, linear_probe, plot_embedding_pair, retrieval_recall
    from .features import cache_key, extract_features, scufo_clips
    from .utils import resolve_device, seed_everything

    seed_everything(cfg.seed)
    out = Path(cfg.out_dir)
    (out / "features").mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    model = load_model_for_features(cfg.checkpoint, cfg.backbone, cfg.backbone_kwargs, cfg.seed)
    key = cache_key(
        cfg.checkpoint or f"random:{cfg.backbone}:{cfg.backbone_kwargs}:{cfg.seed}",
        cfg.frames,
        cfg.stride,
        cfg.size,
        cfg.num_clips,
        cfg.head,
        str(Path(cfg.data).resolve()),
    )

    clip_settings = {
        k: getattr(cfg, k) for k in ("frames", "stride", "size", "num_clips", "head", "batch_size", "workers", "root")
    }

    def feats(split: str, *, scufo: bool = False, list_file: str | None = None):
        # a SCUFO twin is the centre clip with its middle frame repeated: one clip per video
        settings = {**clip_settings, "num_clips": 1} if scufo else clip_settings
        return extract_features(
            model,
            Path(list_file) if list_file else resolve_list(cfg.data, split),
            device=device,
            progress=progress,
            cache_file=out / "features" / f"{'scufo_' if scufo else ''}{split}-{key}.pt",
            clip_transform=scufo_clips if scufo else None,
            **settings,
        )

    gallery = feats(cfg.gallery_split)
    results: dict[str, Any] = {
        "checkpoint": cfg.checkpoint,
        "feature_dim": int(gallery.feats.shape[1]),
        "gallery": cfg.gallery_split,
        "recall": {},
        "knn": {},
        "linear_probe": {},
    }
    n_gallery = len(gallery.labels)
    ks = tuple(k for k in cfg.ks if k <= n_gallery)
    if not ks:
        raise ValueError(
            f"ks {list(cfg.ks)}: every k exceeds the {n_gallery} videos of the {cfg.gallery_split!r} "
            f"gallery; give ks <= {n_gallery}"
        )
    if len(ks) < len(cfg.ks):  # a documented cap, printed and recorded
        results["ks_skipped"] = [k for k in cfg.ks if k > n_gallery]
        print(
            f"[retrieve] Recall@k skipped for k = {results['ks_skipped']}: the {cfg.gallery_split!r} gallery has "
            f"{n_gallery} videos (recorded as 'ks_skipped' in retrieval.json)",
            file=sys.stderr,
            flush=True,
        )
    if cfg.knn_k > n_gallery:
        results["knn_k_used"] = n_gallery
        print(
            f"[retrieve] kNN uses k = {n_gallery} (the gallery's size) instead of {cfg.knn_k}",
            file=sys.stderr,
            flush=True,
        )
    queries = {split: feats(split) for split in cfg.query_splits}
    queries.update({name: feats(f"extra-{name}", list_file=path) for name, path in cfg.extra_tests.items()})
    for split, q in queries.items():
        results["recall"][split] = {
            str(k): v for k, v in retrieval_recall(q.feats, q.labels, gallery.feats, gallery.labels, ks).items()
        }
        results["knn"][split] = knn_accuracy(
            gallery.feats, gallery.labels, q.feats, q.labels, k=min(cfg.knn_k, n_gallery)
        )
    tests = {**queries, **{f"scufo_{s}": feats(s, scufo=True) for s in cfg.scufo_splits}}
    probes = {"probe": _probe_predictions(gallery, tests, cfg.seed, cfg.probe_c)}
    for split, q in queries.items():
        results["linear_probe"][split] = _accuracy(probes["probe"][split], q.labels)
    motion_list = _optional_list(cfg.data, cfg.motion_split)
    if motion_list is not None:
        probes["motion_probe"] = _probe_predictions(feats(cfg.motion_split), tests, cfg.seed, cfg.probe_c)
        results["motion_probe"] = {
            "split": cfg.motion_split,
            "accuracy": {s: _accuracy(probes["motion_probe"][s], q.labels) for s, q in queries.items()},
        }
    scufo, pairs = _counterfactuals(cfg, probes, tests)
    if scufo:
        results["scufo"] = scufo
    if pairs:
        results["contrastive_pairs"] = pairs
    if cfg.background_split:
        bl = _optional_list(cfg.data, cfg.background_split)
        ub = feats(cfg.background_split) if bl is not None else None
        bg = _background_ids(cfg.data, cfg.background_split, ub.paths) if ub is not None else None
        if ub is not None and bg is not None:
            n = len(bg)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
            a, b = perm[: n // 2], perm[n // 2 :]
            r = background_probe(ub.feats[a], bg[a], ub.feats[b], bg[b], C=list(cfg.probe_c), seed=cfg.seed)
            c = linear_probe(ub.feats[a], ub.labels[a], ub.feats[b], ub.labels[b], C=list(cfg.probe_c), seed=cfg.seed)
            results["background_probe"] = {
                "accuracy": r.accuracy,
                "chance": r.chance,
                "majority": r.majority,
                "split": cfg.background_split,
                "class_probe_same_videos": c.accuracy,
            }
            if cfg.embedding:
                import matplotlib.pyplot as plt

                xy = embed_2d(ub.feats, method=cfg.embedding, seed=cfg.seed)
                fig = plot_embedding_pair(
                    xy,
                    ub.labels.numpy(),
                    bg.numpy(),
                    title=f"{cfg.background_split}: features coloured by class / by background",
                )
                fig.savefig(out / "embedding.png", dpi=110, bbox_inches="tight")
                plt.close(fig)
                torch.save({"xy": torch.as_tensor(xy), "labels": ub.labels, "backgrounds": bg}, out / "embedding.pt")
    (out / "retrieval.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = add_stage_parser(
        subparsers, "retrieve", "retrieval Recall@k, kNN, linear and background probes on frozen features", __doc__
    )
    r = RetrievalConfig()
    p.add_argument("--checkpoint", default=None, help="encoder.pt or model.pt (default: random init of --backbone)")
    p.add_argument("--backbone", default=r.backbone)
    add_data_flags(p, training=False)
    p.add_argument("--gallery-split", default=r.gallery_split)
    p.add_argument("--query-splits", nargs="+", default=list(r.query_splits))
    p.add_argument("--background-split", default=r.background_split, help="'none' to skip the background probe")
    p.add_argument("--motion-split", default=r.motion_split, help="'none' to skip the motion probe")
    p.add_argument("--scufo-splits", nargs="+", default=[], help="query splits whose SCUFO twins the probes score")
    p.add_argument("--extra-tests", nargs="+", default=[], metavar="NAME=LIST", help="extra query lists")
    p.add_argument(
        "--contrastive-pairs", nargs="+", default=[], metavar="SCUBA=SCUFO", help="pairs of extra tests, row by row"
    )
    p.add_argument("--out", default=r.out_dir)
    p.add_argument("--num-clips", type=int, default=r.num_clips)
    p.add_argument("--head", action="store_true", help="use the 128-d projection head instead of backbone features")
    p.add_argument("--ks", type=int, nargs="+", default=list(r.ks))
    p.add_argument(
        "--probe-c",
        type=float,
        nargs="+",
        default=list(r.probe_c),
        help="inverse L2 strengths the linear probes choose from on a held-out fifth of their training set",
    )
    add_device_flags(p, training=False)
    p.set_defaults(func=_cli_retrieve)


def _cli_retrieve(a: argparse.Namespace) -> int:
    names = (
        "checkpoint",
        "backbone",
        "data",
        "root",
        "gallery_split",
        "frames",
        "stride",
        "size",
        "num_clips",
        "head",
        "workers",
        "device",
        "seed",
    )
    cfg = RetrievalConfig(
        out_dir=a.out,
        query_splits=tuple(a.query_splits),
        background_split=None if a.background_split == "none" else a.background_split,
        motion_split=None if a.motion_split == "none" else a.motion_split,
        scufo_splits=tuple(a.scufo_splits),
        extra_tests=name_value_pairs(a.extra_tests, "--extra-tests"),
        contrastive_pairs=name_value_pairs(a.contrastive_pairs, "--contrastive-pairs"),
        ks=tuple(a.ks),
        probe_c=tuple(a.probe_c),
        **{k: getattr(a, k) for k in names},
    )
    r = retrieve(cfg, progress=True)
    for split, rec in r["recall"].items():
        print(
            f"{split:12s} "
            + "  ".join(f"R@{k} {v:5.1f}" for k, v in rec.items())
            + f"  | kNN {r['knn'][split]:5.1f}  linear probe {r['linear_probe'][split]:5.1f}"
        )
    if "motion_probe" in r:
        m = r["motion_probe"]
        print(
            f"motion probe (trained on {m['split']}): " + "  ".join(f"{s} {v:.1f}%" for s, v in m["accuracy"].items())
        )
    for split, rec in r.get("scufo", {}).items():
        print(f"SCUFO twins of {split}: " + "  ".join(f"{k} {v:.1f}%" for k, v in rec.items()))
    for scuba, rec in r.get("contrastive_pairs", {}).items():
        print(f"{scuba} / {rec['scufo']}: " + "  ".join(f"{k} {v:.1f}%" for k, v in rec.items() if k != "scufo"))
    if "background_probe" in r:
        b = r["background_probe"]
        print(f"background probe on {b['split']}: {b['accuracy']:.1f}% (chance {b['chance']:.1f}%)")
    print(f"[retrieve] wrote {Path(a.out) / 'retrieval.json'}")
    return 0
