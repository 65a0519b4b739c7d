"""The book's experiment: the profile's :class:`~tbe_lib.experiment.CompareConfig`, resolved
in the project, and what the chapters show of it.

Every chapter's ``parameters`` cell names a ``profile`` and ``overrides`` (fields of
``CompareConfig``, from ``tbe reproduce --set`` / ``--data``) and gets its configuration from
:func:`experiment`; the values are the profile's (:mod:`tbe_lib.experiment.profiles`), so no
chapter repeats a setting, and the runs of one chapter are reused (not recomputed) by the next.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..experiment import (
    EXPERIMENT_PROFILES,
    CompareConfig,
    ExperimentProfile,
    data_source,
    finetune_config,
    list_for,
    profile_config,
)
from ..finetune import FinetuneConfig
from ..train import read_metrics
from ..viz.style import LABEL_PT, PAGE_WIDTH_IN
from .helpers import ensure_synth, project_path, project_root

__all__ = [
    "experiment",
    "book_profile",
    "benchmark_dir",
    "motion_check_dir",
    "motion_check_config",
    "motion_check_result",
    "prepare_data",
    "main_split",
    "representative",
    "run_curves",
    "plot_curves",
    "training_minutes",
    "PAPER_RESULTS",
    "paper_table",
]

# The paper's reported numbers (FingerRec/TBE readme; Kinetics-pretrained I3D, top-1 %), cited.
PAPER_RESULTS = {
    "action recognition (top-1 %, Kinetics-pretrained I3D)": {
        "Random init": {"UCF101": 57.9, "HMDB51": 29.6, "Diving48": 17.4},
        "MoCo baseline": {"UCF101": 70.4, "HMDB51": 36.3, "Diving48": 47.9},
        "BE": {"UCF101": 86.5, "HMDB51": 56.2, "Diving48": 62.6},
    },
    "retrieval (HMDB51, C3D, BE)": {"R@1": 10.2, "R@5": 27.6, "R@10": 40.5, "R@20": 56.2, "R@50": 76.6},
}


def experiment(profile: str = "cpu", overrides: Mapping[str, Any] | None = None) -> CompareConfig:
    """The comparison of chapters 3-7 under ``profile`` with ``overrides`` (CompareConfig
    field -> value), its paths absolute in the project (:func:`~.helpers.project_root`)."""
    return profile_config(profile, overrides, root=project_root())


def book_profile(profile: str) -> ExperimentProfile:
    """The profile's definition (its ``run_dir``, ``seed`` and experiment)."""
    if profile not in EXPERIMENT_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(EXPERIMENT_PROFILES)}")
    return EXPERIMENT_PROFILES[profile]


def benchmark_dir(cfg: CompareConfig) -> Path:
    """The embedded benchmark chapter 2 shows: the static camera's folder of ``cfg``, or, when
    ``cfg`` runs on real datasets, the ``cpu`` profile's."""
    return data_source(cfg if cfg.synthetic else experiment("cpu"), "static")


def motion_check_dir(profile: str) -> Path:
    """Where chapter 2's supervised motion check keeps its run: ``<run_dir>/motion_check``."""
    return project_path(book_profile(profile).run_dir) / "motion_check"


def motion_check_config(
    cfg: CompareConfig, *, profile: str, data: str | Path, epochs: int, batch: int
) -> FinetuneConfig:
    """Chapter 2's check that the motion is learnable: the table's ceiling row (``sup_unbiased``,
    the benchmark's finetuning recipe: CompareConfig's defaults) on the benchmark at ``data``,
    with the experiment's clips (``cfg``'s frames, stride and size) and machine (workers,
    device), trained for ``epochs`` with ``batch`` clips."""
    seed = book_profile(profile).seed
    recipe = CompareConfig(
        data_dirs={"static": str(data)},
        conditions={"static": (seed,)},
        frames=cfg.frames,
        stride=cfg.stride,
        size=cfg.size,
        finetune_epochs=epochs,
        finetune_batch=batch,
        test_clips=1,
        test_splits=("test_same", "test_shift"),
        workers=cfg.workers,
        device=cfg.device,
    )
    return dataclasses.replace(
        finetune_config(recipe, "static", seed, "sup_unbiased"), run_dir=str(motion_check_dir(profile))
    )


def motion_check_result(cfg: CompareConfig, run_dir: str | Path) -> dict[str, float] | None:
    """Chapter 2's motion check in ``run_dir`` (:func:`motion_check_dir`), when it was trained
    on ``cfg``'s static benchmark with ``cfg``'s clips (frames, stride, crop size): its
    ``epochs`` and video-level top-1 per test split (``{"epochs": 40, "test_shift": 64.5,
    ...}``). ``None`` when the run is absent, incomplete, or made for other data or clips, so
    that chapter 7 never quotes a check of another benchmark."""
    run_dir = Path(run_dir)
    try:
        config = json.loads((run_dir / "config.json").read_text())
        results = json.loads((run_dir / "results.json").read_text())["results"]
        data = config["data"]
        same = Path(data["source"]).resolve() == benchmark_dir(cfg).resolve() and (
            data["frames"],
            data["stride"],
            data["size"],
        ) == (cfg.frames, cfg.stride, cfg.size)
        accuracy = {split: float(r["video_top1"]) for split, r in results.items()}
        epochs = float(config["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {"epochs": epochs, **accuracy} if same else None


def prepare_data(cfg: CompareConfig) -> None:
    """Make sure the experiment's data is there: the embedded benchmark is generated (once)
    for every condition; real datasets' lists must exist (the error says how to build them)."""
    for condition in cfg.conditions:
        if cfg.synthetic:
            ensure_synth(data_source(cfg, condition), cfg.synth_size, **cfg.synth, camera=condition)
            continue
        splits = {cfg.train_split, *cfg.test_splits}
        if condition not in cfg.pretrain_from:  # a reused pretraining needs no list of its own
            splits.add(cfg.pretrain_split)
        for split in sorted(splits):
            print(f"{condition}: {split} list {list_for(cfg, condition, split)}")


def main_split(cfg: CompareConfig) -> str:
    """The test split the prose reports: ``test_shift`` on the benchmark (backgrounds
    independent of the class), the last of ``test_splits`` on real data."""
    return cfg.test_splits[-1]


def representative(cfg: CompareConfig) -> tuple[str, int]:
    """The (condition, seed) shown in single-run figures: the static camera's first seed (the
    first condition's on real data)."""
    condition = "static" if "static" in cfg.conditions else next(iter(cfg.conditions))
    return condition, cfg.conditions[condition][0]


def run_curves(run_dirs: Mapping[str, str | Path]) -> pd.DataFrame:
    """The ``metrics.jsonl`` of several runs in one long DataFrame with a ``run`` column."""
    frames = []
    for label, d in run_dirs.items():
        df = pd.DataFrame([r for r in read_metrics(d) if "loss" in r])
        df["run"] = label
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def training_minutes(run_dirs: Sequence[str | Path] | set[str]) -> float:
    """Training time of runs, in minutes, as their ``metrics.jsonl`` logged it (the ``time``
    of each run's last record), so it stays true when the runs were reused, not re-run."""
    total = 0.0
    for d in run_dirs:
        rows = [r for r in read_metrics(d) if "time" in r]
        total += float(rows[-1]["time"]) if rows else 0.0
    return total / 60


def plot_curves(df: pd.DataFrame, keys: Sequence[str], *, titles: Sequence[str] | None = None, smooth: int = 1):
    """One panel per metric, one line per run (rolling mean over ``smooth`` logged points)."""
    fig, axes = plt.subplots(1, len(keys), figsize=(min(4.2 * len(keys), 0.92 * PAGE_WIDTH_IN), 3.2), squeeze=False)
    for ax, key, title in zip(axes[0], keys, titles or keys):
        for run, g in df.groupby("run", sort=False):
            if key in g:
                ax.plot(g["step"], g[key].rolling(smooth, min_periods=1).mean(), label=run)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=LABEL_PT)
    fig.tight_layout()
    return fig


def paper_table() -> pd.DataFrame:
    """The paper's action-recognition table as a DataFrame (cited numbers, not ours)."""
    t = PAPER_RESULTS["action recognition (top-1 %, Kinetics-pretrained I3D)"]
    return pd.DataFrame(t).T
