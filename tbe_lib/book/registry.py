"""The book's notebooks, their order and their own parameters under each profile: one registry.

A *stage* is one notebook of ``notebooks/``; ``tbe reproduce`` executes the stages in the
order of :data:`STAGES` (which must respect ``depends``) under the chosen *profile*. The
profiles are the experiment's (:mod:`tbe_lib.experiment.profiles`: ``smoke``, ``cpu``,
``full``, ``paper``); their settings live there, once, and every notebook reads them with
``experiment(profile, overrides)`` (:mod:`tbe_lib.book.experiment`).

The parameters a notebook receives are, from the least to the most specific:
``PROFILES[p].common`` (here: the profile's name; only the keys the notebook's ``parameters``
cell declares), the command line's experiment settings (``--data DIR`` and the ``--set`` keys
that are fields of ``CompareConfig``, as the ``overrides`` dict), then ``stage.params[p]``
(the chapter's own display knobs; every key must be declared by the notebook: a typo is an
error, not a silently ignored value), then the ``--set`` keys that are a chapter's own
parameters. A notebook's defaults are the ``cpu`` profile, so it runs top to bottom in
JupyterLab as it is.

Adding a notebook: append a :class:`Stage` to :data:`STAGES` with its ``depends`` and its own
parameters per profile (a profile missing from ``params`` runs the notebook with its
defaults); list ``book/<name>`` in ``_toc.yml``. A registered notebook whose file does not
exist yet is skipped by the runner with a message, and the book shows a placeholder page for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..experiment.profiles import EXPERIMENT_PROFILES

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
#: The book's profiles are the experiment's (tbe_lib/experiment/profiles.py): every notebook is
#: offered the profile's name, and reads its values from there (tbe_lib.book.experiment).
PROFILES: Mapping[str, Profile] = _freeze(
    {name: Profile(name, p.description, _freeze({"profile": name})) for name, p in EXPERIMENT_PROFILES.items()}
)


# --------------------------------------------------------------------------------- stages
STAGES: tuple[Stage, ...] = (
    Stage(
        "01_background_erasing",
        "What Background Erasing does to a clip",
        params={
            # figures and the pixel check render clips in memory (no data on disk needed)
            "smoke": {"n_videos": 8, "timing_batch": 4, "timing_frames": 8, "timing_size": 32, "timing_repeats": 5},
            "cpu": {"n_videos": 64, "timing_batch": 16, "timing_frames": 16, "timing_size": 112, "timing_repeats": 20},
            "full": {
                "n_videos": 256,
                "timing_batch": 16,
                "timing_frames": 16,
                "timing_size": 112,
                "timing_repeats": 50,
            },
            "paper": {
                "n_videos": 256,
                "timing_batch": 16,
                "timing_frames": 16,
                "timing_size": 224,
                "timing_repeats": 50,
            },
        },
    ),
    Stage(
        "02_data",
        "The data: the embedded background trap and the real datasets",
        params={
            # motion_check_epochs: the supervised check that the motion is learnable (40 epochs: ~1 min on 2 cores);
            # chapter 2 always shows the embedded benchmark (under paper: the cpu profile's, benchmark_dir)
            "smoke": {"probe_videos": 16, "loader_batch": 4, "motion_check_epochs": 1},
            "cpu": {"probe_videos": 0, "loader_batch": 8, "motion_check_epochs": 40},  # 0: every video of each split
            "full": {"probe_videos": 0, "loader_batch": 8, "motion_check_epochs": 40},
            "paper": {"probe_videos": 0, "loader_batch": 8, "motion_check_epochs": 40},
        },
    ),
    # Chapters 3-7 share the experiment (the profile's CompareConfig).
    Stage("03_pretraining", "Self-supervised pretraining: MoCo vs BE", depends=("02_data",)),
    Stage("04_finetuning", "Finetuning, linear probes and the background trap", depends=("03_pretraining",)),
    Stage(
        "05_retrieval",
        "Video retrieval",
        depends=("04_finetuning",),
        params={
            "smoke": {"n_queries_shown": 2},
            "cpu": {"n_queries_shown": 4},
            "full": {"n_queries_shown": 6},
            "paper": {"n_queries_shown": 4},
        },
    ),
    Stage(
        "06_activation_maps",
        "Where the models look: activation maps",
        depends=("04_finetuning",),
        params={
            "smoke": {"shown_videos": [0, 1]},
            "cpu": {"shown_videos": [0, 3]},
            "full": {"shown_videos": [0, 3, 5]},
            "paper": {"shown_videos": [0, 1]},
        },
    ),
    Stage(
        "07_results",
        "Results: the paper's table, rebuilt",
        depends=("04_finetuning", "05_retrieval", "06_activation_maps"),
    ),
)


def stage_by_name(name: str, stages: tuple[Stage, ...] = STAGES) -> Stage:
    """The stage called ``name`` (``ValueError`` listing the known names otherwise)."""
    for s in stages:
        if s.name == name:
            return s
    raise ValueError(f"unknown notebook {name!r}; registered: {', '.join(s.name for s in stages)}")
