"""The book's notebooks, their order and their parameters under each profile: one registry.

A *stage* is one notebook of ``notebooks/``; ``tbe reproduce`` executes the stages in the
order of :data:`STAGES` (which must respect ``depends``) with the parameters of the chosen
*profile*:

=======  ===================================================================================
smoke    tiny sizes: the whole book in a few minutes on a CPU (CI)
cpu      the real results on the embedded benchmark, on a laptop CPU (default of ``make book``)
full     more seeds and longer schedules on the embedded benchmark (a GPU helps)
paper    the paper's settings on UCF101 / HMDB51 / Diving48 (GPUs; dataset roots as parameters)
=======  ===================================================================================

The parameters a notebook receives are, from the least to the most specific:
``PROFILES[p].common`` (only the keys the notebook's ``parameters`` cell declares), the command
line's overrides (``--data DIR`` sets ``data_dir``), then ``stage.params[p]`` (every key must be
declared by the notebook: a typo is an error, not a silently ignored value). A notebook's
defaults are the ``cpu`` profile's values, so it runs top to bottom in JupyterLab as it is.

``data_dir`` is the data the profile works on: the embedded benchmark's folder for ``smoke``,
``cpu`` and ``full``; for ``paper``, the folder holding the real datasets' lists as ``tbe data
lists`` writes them (``data_lists/`` by default: ``ucf101/ucf101_video_train_split1.txt``...;
the ``datasets`` parameter names them, their headers name the videos' root).
``tbe reproduce --set KEY=VALUE`` overrides any parameter (a JSON value, or a string) for
every notebook that declares it, after the stage's own values.

Adding a notebook: append a :class:`Stage` to :data:`STAGES` with its ``depends`` and one
parameter dict per profile (a profile missing from ``params`` runs the notebook with its
defaults plus the common keys); list ``book/<name>`` in ``_toc.yml``. A registered notebook
whose file does not exist yet is skipped by the runner with a message, and the book shows a
placeholder page for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["Profile", "Stage", "PROFILES", "STAGES", "stage_by_name"]


@dataclass(frozen=True)
class Profile:
    """A set of sizes for the whole book. ``common``: parameters offered to every notebook
    (each notebook receives those it declares)."""

    name: str
    description: str
    common: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One notebook of the book.

    ``name``: the notebook's file stem (``notebooks/<name>.ipynb`` -> ``book/<name>.ipynb``);
    ``title``: for messages and the placeholder page; ``depends``: names of the stages whose
    outputs it reads (their cache keys enter its own); ``params``: profile name -> parameters
    (overriding the notebook's defaults); ``notebook``: source path relative to the project
    root when not ``notebooks/<name>.ipynb``."""

    name: str
    title: str
    depends: tuple[str, ...] = ()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notebook: str | None = None

    @property
    def source(self) -> str:
        return self.notebook or f"notebooks/{self.name}.ipynb"


def _freeze(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


# ------------------------------------------------------------------------------- profiles
#: ``data_dir``: the embedded benchmark's folder (smoke uses its own, so that a smoke run
#: never replaces the cpu profile's data) or, for ``paper``, the folder holding the real
#: datasets. ``run_dir``: where training notebooks keep checkpoints and logs.
# The experiment of chapters 3-7 (see tbe_lib.book.experiment): one backbone for every row,
# r3d_tiny with its defaults (0.9 M parameters), on whole 16-frame videos of the 32x32
# benchmark (the motions are a few pixels per frame: 8-frame clips left too little of them
# for a CPU-sized budget). Activation maps hook its deepest stage with 4x4 maps (set_cam_layer).
_TINY_CAM: dict = {}
_EXPERIMENT = {
    "smoke": dict(static_seeds=[0], jitter_seeds=[0], backbone="r3d_tiny", backbone_kwargs=_TINY_CAM, frames=4,
                  pretrain_steps=4, pretrain_batch=8, finetune_epochs=1, finetune_batch=8, test_clips=1, workers=0),
    "cpu": dict(static_seeds=[0, 1, 2], jitter_seeds=[0], backbone="r3d_tiny", backbone_kwargs=_TINY_CAM, frames=16,
                pretrain_steps=150, pretrain_batch=64, finetune_epochs=12, finetune_batch=32, test_clips=1,
                workers=2),
    "full": dict(static_seeds=[0, 1, 2, 3, 4], jitter_seeds=[0, 1, 2], backbone="r3d_tiny",
                 backbone_kwargs=_TINY_CAM, frames=16, pretrain_steps=2000, pretrain_batch=64, finetune_epochs=40,
                 finetune_batch=32, test_clips=4, workers=4),
}

# The paper's settings (shared/reference/original-code.md, sections 1.6 and 3): I3D; pretraining on
# 16 frames with stride 4, finetuning on 64 consecutive frames, both 224x224 crops of frames
# resized to a 256 short side; batch 4, K = 3569 negatives, SGD lr 0.003 (pretrain) / 0.001
# (finetune), 45 finetuning epochs; UCF101 split 1 pretrains the encoders that UCF101 and
# HMDB51 finetune, Diving48 V2 pretrains its own. ``pretrain_steps`` = 200 epochs of UCF101's
# 9,537 training videos at batch 4 (the paper pretrained Diving48 for 10 epochs: set
# pretrain_steps with --set for other budgets). The lists are the names `tbe data lists` writes
# under data_dir (data_lists/ by default); their headers hold the videos' root.
# The embedded-benchmark profiles finetune with the benchmark's recipe (AdamW lr 1e-3, wd 0.05,
# one warm-up epoch, no dropout: CompareConfig); the paper profile with the paper's SGD.
# Differences, by design: cosine schedules instead of the paper's steps, crops of 60-100 % of
# the frame instead of a fixed 224 crop of 256, our colour jitter (the paper's applies one op
# by a bug), the last epoch reported (not the best on test), video-level over 10 clips.
_PAPER = dict(
    datasets={"ucf101": "ucf101/ucf101_video_{split}_split1.txt", "hmdb51": "hmdb51/hmdb51_video_{split}_split1.txt",
              "diving48": "diving48/diving48_video_{split}.txt"},
    pretrain_from={"hmdb51": "ucf101"}, dataset_seeds=[0], dataset_roots={}, static_seeds=[], jitter_seeds=[],
    pretrain_split="train", train_split="train", test_splits=["test"],
    backbone="i3d", backbone_kwargs={}, frames=16, stride=4, size=224, resize=256, finetune_frames=64,
    finetune_stride=1, finetune_size=224, pretrain_steps=476_850, pretrain_batch=4, pretrain_lr=0.003,
    queue_size=3569, finetune_epochs=45, finetune_batch=4, finetune_lr=0.001, finetune_optimizer="sgd",
    finetune_weight_decay=1e-8, finetune_dropout=0.5, finetune_warmup_epochs=0.0, test_clips=10, workers=8,
)

PROFILES: Mapping[str, Profile] = _freeze({
    "smoke": Profile("smoke", "tiny sizes: the whole book in a few minutes on a CPU (CI)", _freeze({
        "profile": "smoke", "data_dir": "data/synth-smoke", "synth_size": "smoke",
        "run_dir": "runs/book/smoke", "device": "cpu", "seed": 0, **_EXPERIMENT["smoke"],
    })),
    "cpu": Profile("cpu", "the real results on the embedded benchmark, on a laptop CPU", _freeze({
        "profile": "cpu", "data_dir": "data/synth", "synth_size": "default",
        "run_dir": "runs/book/cpu", "device": "cpu", "seed": 0, **_EXPERIMENT["cpu"],
    })),
    "full": Profile("full", "more seeds and longer schedules on the embedded benchmark", _freeze({
        "profile": "full", "data_dir": "data/synth", "synth_size": "default",
        "run_dir": "runs/book/full", "device": "auto", "seed": 0, **_EXPERIMENT["full"],
    })),
    "paper": Profile("paper", "the paper's settings on UCF101 / HMDB51 / Diving48 (GPUs)", _freeze({
        "profile": "paper", "data_dir": "data_lists", "synth_size": "default",
        "run_dir": "runs/book/paper", "device": "auto", "seed": 0, **_PAPER,
    })),
})


# --------------------------------------------------------------------------------- stages
STAGES: tuple[Stage, ...] = (
    Stage(
        "01_background_erasing", "What Background Erasing does to a clip",
        params={
            # figures and the pixel check render clips in memory (no data on disk needed)
            "smoke": {"n_videos": 8, "timing_batch": 4, "timing_frames": 8, "timing_size": 32, "timing_repeats": 5},
            "cpu": {"n_videos": 64, "timing_batch": 16, "timing_frames": 16, "timing_size": 112, "timing_repeats": 20},
            "full": {"n_videos": 256, "timing_batch": 16, "timing_frames": 16, "timing_size": 112, "timing_repeats": 50},
            "paper": {"n_videos": 256, "timing_batch": 16, "timing_frames": 16, "timing_size": 224, "timing_repeats": 50},
        },
    ),
    Stage(
        "02_data", "The data: the embedded background trap and the real datasets",
        params={
            # motion_check_epochs: the supervised check that the motion is learnable (40 epochs: ~1 min on 2 cores)
            "smoke": {"probe_videos": 16, "loader_batch": 4, "motion_check_epochs": 1},
            "cpu": {"probe_videos": 0, "loader_batch": 8, "motion_check_epochs": 40},  # 0: every video of each split
            "full": {"probe_videos": 0, "loader_batch": 8, "motion_check_epochs": 40},
            # chapter 2 always shows the embedded benchmark (the real datasets' part is commands)
            "paper": {"probe_videos": 0, "loader_batch": 8, "data_dir": "data/synth", "motion_check_epochs": 40},
        },
    ),
    # Chapters 3-7 share the experiment's parameters (the profile's common keys above).
    Stage("03_pretraining", "Self-supervised pretraining: MoCo vs BE", depends=("02_data",)),
    Stage("04_finetuning", "Finetuning, linear probes and the background trap", depends=("03_pretraining",)),
    Stage("05_retrieval", "Video retrieval", depends=("04_finetuning",),
          params={"smoke": {"n_queries_shown": 2}, "cpu": {"n_queries_shown": 4}, "full": {"n_queries_shown": 6},
                  "paper": {"n_queries_shown": 4}}),
    Stage("06_activation_maps", "Where the models look: activation maps", depends=("04_finetuning",),
          params={"smoke": {"cam_videos": 8, "shown_videos": [0, 1]}, "cpu": {"cam_videos": 64, "shown_videos": [0, 3]},
                  "full": {"cam_videos": 200, "shown_videos": [0, 3, 5]},
                  "paper": {"cam_videos": 8, "shown_videos": [0, 1]}}),
    Stage("07_results", "Results: the paper's table, rebuilt", depends=("04_finetuning", "05_retrieval", "06_activation_maps")),
)


def stage_by_name(name: str, stages: tuple[Stage, ...] = STAGES) -> Stage:
    """The stage called ``name`` (``ValueError`` listing the known names otherwise)."""
    for s in stages:
        if s.name == name:
            return s
    raise ValueError(f"unknown notebook {name!r}; registered: {', '.join(s.name for s in stages)}")
