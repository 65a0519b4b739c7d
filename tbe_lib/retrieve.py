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
    frames: int = 8
    stride: int = 1
    size: int = 32
    num_clips: int = 4
    head: bool = False
    ks: tuple[int, ...] = (1, 5, 10, 20, 50)
    knn_k: int = 10
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


def retrieve(cfg: RetrievalConfig, *, progress: bool = False) -> dict[str, Any]:
    """Run the evaluation of the module docstring; returns (and writes) the results dict."""
    from .evaluate import background_probe, embed_2d, knn_accuracy, linear_probe, plot_embedding_pair, retrieval_recall
    from .features import cache_key, extract_features
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

    def feats(split: str):
        return extract_features(
            model,
            resolve_list(cfg.data, split),
            device=device,
            progress=progress,
            cache_file=out / "features" / f"{split}-{key}.pt",
            **clip_settings,
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
    for split in cfg.query_splits:
        q = feats(split)
        results["recall"][split] = {
            str(k): v for k, v in retrieval_recall(q.feats, q.labels, gallery.feats, gallery.labels, ks).items()
        }
        results["knn"][split] = knn_accuracy(
            gallery.feats, gallery.labels, q.feats, q.labels, k=min(cfg.knn_k, n_gallery)
        )
        results["linear_probe"][split] = linear_probe(
            gallery.feats, gallery.labels, q.feats, q.labels, seed=cfg.seed
        ).accuracy
    if cfg.background_split:
        try:
            bl = resolve_list(cfg.data, cfg.background_split)
        except FileNotFoundError:
            bl = None
        ub = feats(cfg.background_split) if bl is not None else None
        bg = _background_ids(cfg.data, cfg.background_split, ub.paths) if ub is not None else None
        if ub is not None and bg is not None:
            n = len(bg)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
            a, b = perm[: n // 2], perm[n // 2 :]
            r = background_probe(ub.feats[a], bg[a], ub.feats[b], bg[b], seed=cfg.seed)
            c = linear_probe(ub.feats[a], ub.labels[a], ub.feats[b], ub.labels[b], seed=cfg.seed)
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
    p.add_argument("--out", default=r.out_dir)
    p.add_argument("--num-clips", type=int, default=r.num_clips)
    p.add_argument("--head", action="store_true", help="use the 128-d projection head instead of backbone features")
    p.add_argument("--ks", type=int, nargs="+", default=list(r.ks))
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
        ks=tuple(a.ks),
        **{k: getattr(a, k) for k in names},
    )
    r = retrieve(cfg, progress=True)
    for split, rec in r["recall"].items():
        print(
            f"{split:12s} "
            + "  ".join(f"R@{k} {v:5.1f}" for k, v in rec.items())
            + f"  | kNN {r['knn'][split]:5.1f}  linear probe {r['linear_probe'][split]:5.1f}"
        )
    if "background_probe" in r:
        b = r["background_probe"]
        print(f"background probe on {b['split']}: {b['accuracy']:.1f}% (chance {b['chance']:.1f}%)")
    print(f"[retrieve] wrote {Path(a.out) / 'retrieval.json'}")
    return 0
