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

__all__ = ["experiment_config", "experiment_from", "EXPERIMENT_KEYS", "run_curves", "plot_curves", "ROW_LABELS", "PAPER_RESULTS", "paper_table",
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
                      finetune_batch: int, test_clips: int, workers: int, device: str, **_: Any) -> CompareConfig:
    """The comparison of the book from a notebook's parameters (extra keys are ignored).

    The static camera's benchmark is ``data_dir`` itself (the one chapter 2 shows), the
    jitter camera's ``<data_dir>-jitter``; paths are relative to the project root. The runs
    go to ``run_dir/compare``."""
    from .helpers import project_path

    conditions = {cam: tuple(int(s) for s in seeds) for cam, seeds in (("static", static_seeds),
                                                                       ("jitter", jitter_seeds)) if seeds}
    base = project_path(data_dir)
    dirs = {cam: str(base if cam == "static" else base.with_name(f"{base.name}-{cam}")) for cam in conditions}
    return CompareConfig(out_dir=str(project_path(run_dir) / "compare"), data_dir=str(base.parent), data_dirs=dirs,
                         synth_size=synth_size, conditions=conditions, backbone=backbone,
                         backbone_kwargs=dict(backbone_kwargs), frames=frames, pretrain_steps=pretrain_steps,
                         pretrain_batch=pretrain_batch, finetune_epochs=finetune_epochs, finetune_batch=finetune_batch,
                         test_clips=test_clips,
                         workers=workers, device=device)


def experiment_from(namespace: Mapping[str, Any]) -> CompareConfig:
    """:func:`experiment_config` from a notebook's namespace (``experiment_from(globals())``):
    takes the :data:`EXPERIMENT_KEYS` that the ``parameters`` cell defined."""
    if namespace.get("profile") == "paper":
        raise NotImplementedError(
            "chapters 3-7 under the 'paper' profile (UCF101/HMDB51/Diving48, I3D) are not written yet: the library "
            "runs those settings (tbe pretrain / finetune / retrieve on list files from 'tbe data lists'), these "
            "notebooks only know the embedded benchmark's splits. Use --profile smoke, cpu or full.")
    missing = [k for k in EXPERIMENT_KEYS if k not in namespace]
    if missing:
        raise NameError(f"the parameters cell must define {missing}")
    return experiment_config(**{k: namespace[k] for k in EXPERIMENT_KEYS})


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
