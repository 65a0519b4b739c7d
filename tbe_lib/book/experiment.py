"""The book's experiment: one :class:`~tbe_lib.compare.CompareConfig` shared by chapters 3-7.

Chapters 3 (pretraining), 4 (finetuning and probes), 5 (retrieval), 6 (activation maps) and 7
(results) all work on the same runs; they build the configuration from their ``parameters``
cell with :func:`experiment_config` (the values come from the profile, see
:mod:`tbe_lib.book.registry`), so no chapter repeats another's settings, and the runs of one
chapter are reused (not recomputed) by the next.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..compare import ROW_LABELS, CompareConfig, finetune_config, pretrain_config, synth_dir

EXPERIMENT_KEYS = ("run_dir", "data_dir", "synth_size", "static_seeds", "jitter_seeds", "backbone",
                   "backbone_kwargs", "frames", "pretrain_steps", "pretrain_batch", "finetune_epochs", "finetune_batch",
                   "test_clips", "workers", "device")
#: Keys a parameters cell may leave out (their defaults are the embedded benchmark's); the
#: ``paper`` profile sets them: real datasets, their splits, and the paper's clip geometry.
OPTIONAL_KEYS: dict[str, Any] = {
    "datasets": {},            # name -> list template with {split} (relative to data_dir) or folder; {}: the benchmark
    "dataset_seeds": [0],      # seeds of each real dataset
    "dataset_roots": {},       # name -> data root overriding the lists' own
    "pretrain_from": {},       # name -> name whose pretraining it finetunes (the paper: hmdb51 <- ucf101)
    "pretrain_split": "pretrain",
    "train_split": "train",
    "test_splits": ["test_same", "test_shift"],
    "stride": 1,
    "size": 32,
    "resize": None,
    "finetune_frames": None,
    "finetune_stride": None,
    "finetune_size": None,
    "pretrain_lr": 0.03,
    "finetune_lr": 1e-3,
    "finetune_optimizer": "adamw",   # the benchmark's recipe (CompareConfig); the paper: sgd
    "finetune_weight_decay": 0.05,
    "finetune_dropout": 0.0,
    "finetune_warmup_epochs": 1.0,
    "queue_size": 1024,
}

__all__ = ["experiment_config", "experiment_from", "prepare_data", "main_split", "EXPERIMENT_KEYS", "OPTIONAL_KEYS", "run_curves", "plot_curves", "training_minutes", "ROW_LABELS", "PAPER_RESULTS", "paper_table",
           "representative", "synth_dir", "pretrain_config", "finetune_config"]

# The paper's reported numbers (FingerRec/TBE readme; Kinetics-pretrained I3D, top-1 %), cited.
PAPER_RESULTS = {
    "action recognition (top-1 %, Kinetics-pretrained I3D)": {
        "Random init": {"UCF101": 57.9, "HMDB51": 29.6, "Diving48": 17.4},
        "MoCo baseline": {"UCF101": 70.4, "HMDB51": 36.3, "Diving48": 47.9},
        "BE": {"UCF101": 86.5, "HMDB51": 56.2, "Diving48": 62.6},
    },
    "retrieval (HMDB51, C3D, BE)": {"R@1": 10.2, "R@5": 27.6, "R@10": 40.5, "R@20": 56.2, "R@50": 76.6},
}


def experiment_config(*, run_dir: str, data_dir: str, synth_size: str, static_seeds: Sequence[int],
                      jitter_seeds: Sequence[int], backbone: str, backbone_kwargs: Mapping[str, Any],
                      frames: int, pretrain_steps: int, pretrain_batch: int, finetune_epochs: int,
                      finetune_batch: int, test_clips: int, workers: int, device: str,
                      datasets: Mapping[str, str] | None = None, dataset_seeds: Sequence[int] = (0,),
                      dataset_roots: Mapping[str, str] | None = None, pretrain_from: Mapping[str, str] | None = None,
                      pretrain_split: str = "pretrain", train_split: str = "train",
                      test_splits: Sequence[str] = ("test_same", "test_shift"), stride: int = 1, size: int = 32,
                      resize: int | None = None, finetune_frames: int | None = None, finetune_stride: int | None = None,
                      finetune_size: int | None = None, pretrain_lr: float = 0.03, finetune_lr: float = 1e-3,
                      finetune_optimizer: str = "adamw", finetune_weight_decay: float = 0.05,
                      finetune_dropout: float = 0.0, finetune_warmup_epochs: float = 1.0,
                      queue_size: int = 1024, **_: Any) -> CompareConfig:
    """The comparison of the book from a notebook's parameters (extra keys are ignored).

    Embedded benchmark (``datasets`` empty): the static camera's benchmark is ``data_dir``
    itself (the one chapter 2 shows), the jitter camera's ``<data_dir>-jitter``; paths are
    relative to the project root.

    Real datasets (``datasets`` = name -> list template such as
    ``ucf101/ucf101_video_{split}_split1.txt``, or a folder with ``lists/<split>.txt``,
    relative to ``data_dir``): one condition per dataset with ``dataset_seeds``, splits
    ``pretrain_split`` / ``train_split`` / ``test_splits``, no benchmark-only rows.

    The runs go to ``run_dir/compare``."""
    from .helpers import project_path

    common = dict(out_dir=str(project_path(run_dir) / "compare"), backbone=backbone,
                  backbone_kwargs=dict(backbone_kwargs), frames=frames, stride=stride, size=size, resize=resize,
                  finetune_frames=finetune_frames, finetune_stride=finetune_stride, finetune_size=finetune_size,
                  pretrain_steps=pretrain_steps, pretrain_batch=pretrain_batch, pretrain_lr=pretrain_lr,
                  queue_size=queue_size, finetune_epochs=finetune_epochs, finetune_batch=finetune_batch,
                  finetune_lr=finetune_lr, finetune_optimizer=finetune_optimizer,
                  finetune_weight_decay=finetune_weight_decay, finetune_dropout=finetune_dropout,
                  finetune_warmup_epochs=finetune_warmup_epochs, test_clips=test_clips, workers=workers, device=device,
                  pretrain_split=pretrain_split, train_split=train_split, test_splits=tuple(test_splits))
    if datasets:
        base = project_path(data_dir)
        dirs = {name: str(src if Path(src).is_absolute() else base / src) for name, src in datasets.items()}
        roots = {name: str(project_path(r)) for name, r in (dataset_roots or {}).items()}
        return CompareConfig(**common, synthetic=False, data_dir=str(base), data_dirs=dirs, roots=roots,
                             conditions={name: tuple(int(s) for s in dataset_seeds) for name in datasets},
                             pretrain_from=dict(pretrain_from or {}), cam_split=tuple(test_splits)[-1])
    conditions = {cam: tuple(int(s) for s in seeds) for cam, seeds in (("static", static_seeds),
                                                                       ("jitter", jitter_seeds)) if seeds}
    base = project_path(data_dir)
    dirs = {cam: str(base if cam == "static" else base.with_name(f"{base.name}-{cam}")) for cam in conditions}
    return CompareConfig(**common, data_dir=str(base.parent), data_dirs=dirs, synth_size=synth_size,
                         conditions=conditions)


def experiment_from(namespace: Mapping[str, Any]) -> CompareConfig:
    """:func:`experiment_config` from a notebook's namespace (``experiment_from(globals())``):
    takes the :data:`EXPERIMENT_KEYS` that the ``parameters`` cell defined, and those of
    :data:`OPTIONAL_KEYS` it defined (the others keep their defaults)."""
    missing = [k for k in EXPERIMENT_KEYS if k not in namespace]
    if missing:
        raise NameError(f"the parameters cell must define {missing}")
    kw = {k: namespace[k] for k in EXPERIMENT_KEYS}
    kw.update({k: namespace.get(k, v) for k, v in OPTIONAL_KEYS.items()})
    return experiment_config(**kw)


def prepare_data(cfg: CompareConfig, synth_size: str = "default") -> None:
    """Make sure the experiment's data is there: the embedded benchmark is generated (once)
    for every camera; real datasets' lists must exist (the error says how to build them)."""
    from ..compare import list_for
    from .helpers import ensure_synth

    for camera in cfg.conditions:
        if cfg.synthetic:
            ensure_synth(cfg.data_dirs[camera], synth_size, camera=camera)
            continue
        splits = {cfg.train_split, *cfg.test_splits}
        if camera not in cfg.pretrain_from:  # a reused pretraining needs no list of its own
            splits.add(cfg.pretrain_split)
        for split in sorted(splits):
            lst = list_for(cfg, camera, split)
            print(f"{camera}: {split} list {lst}")


def main_split(cfg: CompareConfig) -> str:
    """The test split the prose reports: ``test_shift`` on the benchmark (backgrounds
    independent of the class), the last of ``test_splits`` on real data."""
    return cfg.test_splits[-1]


def representative(cfg: CompareConfig) -> tuple[str, int]:
    """The (camera, seed) shown in single-run figures: the static camera's first seed."""
    camera = "static" if "static" in cfg.conditions else next(iter(cfg.conditions))
    return camera, cfg.conditions[camera][0]


def run_curves(run_dirs: Mapping[str, str | Path]) -> pd.DataFrame:
    """The ``metrics.jsonl`` of several runs in one long DataFrame with a ``run`` column."""
    from ..train import read_metrics

    frames = []
    for label, d in run_dirs.items():
        rows = [r for r in read_metrics(d) if "loss" in r]
        df = pd.DataFrame(rows)
        df["run"] = label
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def training_minutes(run_dirs) -> float:
    """Training time of runs, in minutes, as their ``metrics.jsonl`` logged it (the ``time``
    of each run's last record), so it stays true when the runs were reused, not re-run."""
    from ..train import read_metrics

    total = 0.0
    for d in run_dirs:
        rows = [r for r in read_metrics(d) if "time" in r]
        total += float(rows[-1]["time"]) if rows else 0.0
    return total / 60


def plot_curves(df: pd.DataFrame, keys: Sequence[str], *, titles: Sequence[str] | None = None, smooth: int = 1):
    """One panel per metric, one line per run (rolling mean over ``smooth`` logged points)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.4), squeeze=False)
    for ax, key, title in zip(axes[0], keys, titles or keys):
        for run, g in df.groupby("run", sort=False):
            if key in g:
                ax.plot(g["step"], g[key].rolling(smooth, min_periods=1).mean(), label=run)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def paper_table() -> pd.DataFrame:
    """The paper's action-recognition table as a DataFrame (cited numbers, not ours)."""
    t = PAPER_RESULTS["action recognition (top-1 %, Kinetics-pretrained I3D)"]
    return pd.DataFrame(t).T
