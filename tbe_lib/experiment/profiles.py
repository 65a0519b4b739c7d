"""The book's experiments: ``smoke``, ``cpu``, ``full`` and ``paper``, each one named
:class:`~tbe_lib.experiment.CompareConfig` (what differs from its defaults, nothing else).

=======  ===================================================================================
smoke    tiny sizes: the whole book in a few minutes on a CPU (CI)
cpu      the real results on the embedded benchmark, on a laptop CPU (default of ``make book``)
full     more seeds and longer schedules on the embedded benchmark (a GPU helps)
paper    the paper's settings on UCF101 / HMDB51 / Diving48 (GPUs)
=======  ===================================================================================

Paths are relative to the project root (:func:`profile_config` makes them absolute given
it). On the embedded benchmark ``data_dir`` is the static camera's folder and the other
cameras' are beside it (``data/synth-jitter``); for ``paper`` it is the folder holding the
lists that ``tbe data lists`` writes (``data_lists/``). ``tbe reproduce --data DIR`` sets
``data_dir``, ``--set KEY=VALUE`` any other field.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..data.synth import CAMERAS
from .config import CompareConfig, setting_names

__all__ = ["ExperimentProfile", "EXPERIMENT_PROFILES", "profile_config", "rooted"]


@dataclass(frozen=True)
class ExperimentProfile:
    """A named experiment. ``run_dir``: its runs' folder (the comparison in
    ``<run_dir>/compare``, chapter 2's motion check in ``<run_dir>/motion_check``); ``seed``:
    the seed of chapters 1 and 2 (rendered clips, the benchmark, the motion check);
    ``experiment``: the comparison of chapters 3-7 (chapters 1-2 read its ``data_dir``,
    ``synth_size``, ``device`` and ``workers`` too)."""

    name: str
    description: str
    run_dir: str
    seed: int
    experiment: CompareConfig


# On the embedded benchmark, data_dir is the static camera's folder and another camera's is
# <data_dir>-<camera> (chapter 2 shows the static one).
_BENCHMARK_DIRS = {cam: "{data_dir}" if cam == "static" else "{data_dir}-" + cam for cam in CAMERAS}


def _profile(name: str, description: str, *, run_dir: str, **settings: Any) -> ExperimentProfile:
    return ExperimentProfile(name, description, run_dir, 0, CompareConfig(out_dir=f"{run_dir}/compare", **settings))


# One backbone for every row, r3d_tiny with its defaults (0.9 M parameters), on the 32x32
# benchmark of 32-frame videos. ``cpu``: clips of 8 frames at stride 2 (16 frames of time, at
# random starts, so an other-time clip exists), one seed-set of every row in under 30 minutes on
# 2 cores, two runs at a time with one thread each and no loader processes (the decoded videos
# stay in memory after the first epoch; on 2 cores this is 1.5x the throughput of one run with
# two threads and two loader processes, bench/bench_jobs.py); ``smoke`` runs the same way;
# ``full``: 16 consecutive frames, longer schedules, more seeds, the jittering camera too (a GPU
# helps). Activation maps hook its deepest stage (set_cam_layer). Finetuning: the
# benchmark's recipe (CompareConfig's defaults).
# The profiles are laid out as a table (several settings a line), not one setting a line.
# fmt: off
_SMOKE = _profile("smoke", "tiny sizes: the whole book in a few minutes on a CPU (CI)", run_dir="runs/book/smoke",
                  data_dir="data/synth-smoke", data_dirs=_BENCHMARK_DIRS, synth_size="smoke", device="cpu",
                  conditions={"static": (0,), "jitter": (0,)}, frames=4, pretrain_steps=4, pretrain_batch=8,
                  finetune_epochs=1, finetune_batch=8, test_clips=1, workers=0, jobs=2, cam_videos=8)
_CPU = _profile("cpu", "the real results on the embedded benchmark, on a laptop CPU", run_dir="runs/book/cpu",
                data_dir="data/synth", data_dirs=_BENCHMARK_DIRS, device="cpu",
                conditions={"static": (0, 1, 2)}, frames=8, stride=2, pretrain_steps=300, finetune_epochs=12,
                test_clips=1, workers=0, jobs=2)
_FULL = _profile("full", "more seeds and longer schedules on the embedded benchmark", run_dir="runs/book/full",
                 data_dir="data/synth", data_dirs=_BENCHMARK_DIRS, conditions={"static": (0, 1, 2, 3, 4), "jitter": (0, 1, 2)},
                 frames=16, pretrain_steps=2000, finetune_epochs=40, test_clips=4, workers=4, cam_videos=200)

# The paper's settings (shared/reference/original-code.md, sections 1.6 and 3): I3D; pretraining
# on 16 frames with stride 4, finetuning on 64 consecutive frames, both 224x224 crops of frames
# resized to a 256 short side; batch 4, K = 3569 negatives, SGD lr 0.003 (pretrain) / 0.001
# (finetune, weight decay 1e-8, dropout 0.5, no warm-up), 45 finetuning epochs; UCF101 split 1
# pretrains the encoders that UCF101 and HMDB51 finetune, Diving48 V2 pretrains its own.
# ``pretrain_steps`` = 200 epochs of UCF101's 9,537 training videos at batch 4 (the paper
# pretrained Diving48 for 10 epochs: set pretrain_steps with --set for other budgets). The
# lists are the names `tbe data lists` writes under data_dir; their headers hold the videos' root.
# Differences, by design: cosine schedules instead of the paper's steps, crops of 60-100 % of
# the frame instead of a fixed 224 crop of 256, our colour jitter (the paper's applies one op
# by a bug), the last epoch reported (not the best on test), video-level over 10 clips.
_PAPER = _profile(
    "paper", "the paper's settings on UCF101 / HMDB51 / Diving48 (GPUs)", run_dir="runs/book/paper",
    data_dir="data_lists", synthetic=False, rows=("random", "moco_paper", "be_paper", "fame"),
    data_dirs={"ucf101": "{data_dir}/ucf101/ucf101_video_{split}_split1.txt",
               "hmdb51": "{data_dir}/hmdb51/hmdb51_video_{split}_split1.txt",
               "diving48": "{data_dir}/diving48/diving48_video_{split}.txt"},
    conditions={"ucf101": (0,), "hmdb51": (0,), "diving48": (0,)}, pretrain_from={"hmdb51": "ucf101"},
    pretrain_split="train", train_split="train", test_splits=("test",), cam_split="test", cam_videos=8,
    backbone="i3d", frames=16, stride=4, size=224, resize=256, finetune_frames=64, finetune_stride=1, finetune_size=224,
    pretrain_steps=476_850, pretrain_batch=4, pretrain_lr=0.003, queue_size=3569,
    finetune_epochs=45, finetune_batch=4, finetune_lr=0.001, finetune_optimizer="sgd", finetune_weight_decay=1e-8,
    finetune_dropout=0.5, finetune_warmup_epochs=0.0, test_clips=10, workers=8,
)
# fmt: on

EXPERIMENT_PROFILES: Mapping[str, ExperimentProfile] = MappingProxyType(
    {p.name: p for p in (_SMOKE, _CPU, _FULL, _PAPER)}
)


def rooted(cfg: CompareConfig, root: str | os.PathLike) -> CompareConfig:
    """``cfg`` with its relative paths (``out_dir``, ``data_dir``, ``data_dirs`` entries that
    do not start with ``{data_dir}``, ``roots``) made absolute under ``root``."""

    def absolute(path: str) -> str:
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else Path(root) / p)

    return dataclasses.replace(
        cfg,
        out_dir=absolute(cfg.out_dir),
        data_dir=absolute(cfg.data_dir),
        data_dirs={c: d if d.startswith("{data_dir}") else absolute(d) for c, d in cfg.data_dirs.items()},
        roots={c: absolute(r) for c, r in cfg.roots.items()},
    )


def profile_config(
    name: str, overrides: Mapping[str, Any] | None = None, *, root: str | os.PathLike | None = None
) -> CompareConfig:
    """The comparison of profile ``name`` with ``overrides`` (field -> value; JSON values are
    converted to the fields' types) and, given ``root``, its paths made absolute under it.
    An unknown profile or field is a ``ValueError`` listing the known ones."""
    if name not in EXPERIMENT_PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(EXPERIMENT_PROFILES)}")
    unknown = sorted(set(overrides or {}) - set(setting_names()))
    if unknown:
        raise ValueError(
            f"{unknown}: not settings of the experiment; CompareConfig's fields are {', '.join(setting_names())}"
        )
    base = copy.deepcopy(EXPERIMENT_PROFILES[name].experiment)
    cfg = dataclasses.replace(base, **copy.deepcopy(dict(overrides or {})))
    return rooted(cfg, root) if root is not None else cfg
