"""The comparison's settings: :class:`CompareConfig`, one dataclass whose fields are every
setting of the experiment, each documented where it is defined.

Everything else derives from it: the ``tbe compare`` flags (one per field, help from the
field's documentation, :mod:`tbe_lib.compare`), the book's profiles (named instances,
:mod:`.profiles`), ``tbe reproduce --set`` (field overrides), and the configurations of the
runs (:mod:`.plan`). A new setting is a new field here and nothing else.

The rows of the table (``random``, the registered pretraining methods and their variants,
the supervised floor and ceiling) and their labels are defined here too.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from ..config import OPTIMIZERS
from ..data.synth.config import PRESETS, SynthConfig, config_for
from ..finetune import check_counterfactuals
from ..methods import ROW_SPECS

__all__ = [
    "CompareConfig",
    "ROWS",
    "SSL_ROWS",
    "ROW_LABELS",
    "all_rows",
    "setting_names",
    "setting_doc",
    "setting_choices",
    "setting_types",
]

#: Pretraining rows, read live from the method registry (tbe_lib/methods): every registered
#: method and its variants, in registration order (row -> (label, method, MethodConfig overrides)).
SSL_ROWS: Mapping[str, tuple[str, str, Mapping[str, Any]]] = ROW_SPECS
#: The rows a comparison runs by default (the book's): random init; MoCo and BE without and with
#: the paper's extra negatives (the decomposition: BE x {none, other-video, intra-video}); FAME;
#: the two controls (the ground-truth actor swap, the pan-direction positive control); the
#: supervised floor and ceiling.
ROWS = (
    "random", "moco", "moco_paper", "be", "be_other", "be_paper", "fame", "oracle_swap", "pan_direction",
    "sup_biased", "sup_unbiased",
)  # fmt: skip
_REFERENCE_LABELS = {
    "random": "Random init",
    "sup_biased": "Supervised, biased train (floor)",
    "sup_unbiased": "Supervised, unbiased train (ceiling)",
}
# Rows that need the embedded benchmark's ground truth (the unbiased split, the actor masks) or
# that are, on real data, the ``random`` row itself: left out when ``synthetic=False``.
_SUPERVISED_ROWS = ("sup_biased", "sup_unbiased")
_BENCHMARK_ONLY_ROWS = (*_SUPERVISED_ROWS, "oracle_swap")


def all_rows() -> tuple[str, ...]:
    """Every row a comparison can have: random init, each pretraining row, the two references."""
    return ("random", *ROW_SPECS, *_SUPERVISED_ROWS)


class _RowLabels(Mapping[str, str]):
    """Row -> label in tables: the references' and, live, the registered methods'."""

    def __getitem__(self, row: str) -> str:
        return _REFERENCE_LABELS[row] if row in _REFERENCE_LABELS else ROW_SPECS[row][0]

    def __iter__(self) -> Iterator[str]:
        return iter(all_rows())

    def __len__(self) -> int:
        return len(all_rows())


ROW_LABELS: Mapping[str, str] = _RowLabels()


def _setting(default: Any, doc: str, *, choices: Callable[[], tuple[str, ...]] | None = None) -> Any:
    """A field of :class:`CompareConfig` with its documentation (``metadata["doc"]``, the help
    of its ``tbe compare`` flag) and, where the values are a closed set, ``choices`` (a
    function, so that methods registered later are valid rows)."""
    meta = {"doc": doc, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class CompareConfig:
    """The whole comparison: which rows, conditions and seeds, with which data, clips,
    schedules and recipes. Defaults: the embedded benchmark on a CPU budget.

    A *condition* is a camera setting of the embedded benchmark (``static``, ``jitter``,
    ``pan``) or, on real data (``synthetic=False``), a dataset. Values from JSON (lists for
    tuples, ints for floats) are converted to the fields' types; a value of another type is
    an error naming the field."""

    # ------------------------------------------------------------------ where
    out_dir: str = _setting(
        "runs/compare",
        "where the runs go: <out_dir>/<condition>/seed<s>/{pretrain,finetune,"
        "retrieval}_<row>, actor_mass.json, table.csv",
    )
    data_dir: str = _setting(
        "data",
        "the data folder: '{data_dir}' in data_dirs stands for it; a condition without a "
        "data_dirs entry uses <data_dir>/synth-<synth_size>-<condition> (made if missing)",
    )
    synth_size: str = _setting(
        "default",
        "preset of the embedded benchmark that is generated for each condition",
        choices=lambda: tuple(sorted(PRESETS)),
    )
    synth: dict[str, Any] = _setting(
        {},
        "fields of the benchmark's SynthConfig that replace the preset's for every condition (JSON), e.g. "
        '{"speed": [0.0075, 0.015]}; a folder rendered with other fields is rendered again, so give the variant '
        "its own data_dir",
    )
    data_dirs: dict[str, str] = _setting(
        {},
        "condition -> its data: a benchmark folder, a folder with "
        "lists/<split>.txt, or a list template with {split} (e.g. data_lists/ucf101/"
        "ucf101_video_{split}_split1.txt); '{data_dir}' stands for data_dir",
    )
    roots: dict[str, str] = _setting({}, "condition -> the videos' root, overriding the one its lists name")
    # ------------------------------------------------------------------ what
    conditions: dict[str, tuple[int, ...]] = _setting(
        {"static": (0, 1, 2), "jitter": (0,)},
        "condition -> its seeds (a camera setting of the benchmark, or a dataset with synthetic=False)",
    )
    rows: tuple[str, ...] = _setting(
        ROWS, "rows of the table (default: the paper's); every registered method and variant is a row", choices=all_rows
    )
    pretrain_from: dict[str, str] = _setting(
        {},
        "condition -> the condition whose pretrained encoders it finetunes "
        "(the paper: hmdb51 <- ucf101); entries for absent conditions are ignored",
    )
    synthetic: bool = _setting(
        True,
        "the embedded benchmark (its ground truth gives the supervised floor and ceiling, "
        "the background probe and the actor mass); false for real datasets",
    )
    pretrain_split: str = _setting("pretrain", "split that pretraining reads")
    train_split: str = _setting("train", "split that finetuning trains on (and the retrieval gallery)")
    test_splits: tuple[str, ...] = _setting(
        ("test_same", "test_shift"), "splits evaluated after finetuning and queried in retrieval"
    )
    unbiased_split: str | None = _setting(
        "train_unbiased", "split of the supervised ceiling (sup_unbiased); none on real data"
    )
    background_split: str | None = _setting("train_unbiased", "split of the background probe; none on real data")
    motion_split: str | None = _setting(
        "train_unbiased",
        "split the motion probe trains on (a linear probe on frozen features, tested on every test split: "
        "is the motion decodable at all, whatever the background?); none on real data",
    )
    scufo_splits: tuple[str, ...] = _setting(
        ("test_shift",),
        "test splits also scored on their SCUFO twins (each video's middle frame repeated: the scene "
        "without the motion) by the finetuned classifiers and the probes, with the contrastive accuracy "
        "(right on the video, wrong on its twin); on real data only those among test_splits",
    )
    extra_tests: dict[str, str] = _setting(
        {},
        "name -> list file of an extra test set scored by the finetuned classifiers and the probes "
        "(e.g. SCUBA / SCUFO / HAT lists built from the public sets); '{data_dir}' and '{condition}' "
        "stand for data_dir and the condition",
    )
    contrastive_pairs: dict[str, str] = _setting(
        {},
        "SCUBA test -> its SCUFO twin (two names of extra_tests), paired row by row: the i-th video of "
        "one list is the twin of the i-th of the other (same labels); gives their contrastive accuracy",
    )
    cam_split: str = _setting("test_shift", "split whose videos' activation maps are measured")
    cam_videos: int = _setting(64, "videos of cam_split whose Grad-CAM maps are measured per model")
    # ------------------------------------------------------------------ model and clips
    backbone: str = _setting("r3d_tiny", "backbone of every row (c3d, r3d_18, r2plus1d_18, s3d, i3d, r3d_tiny)")
    backbone_kwargs: dict[str, Any] = _setting(
        {}, 'keyword arguments of the backbone (JSON), e.g. {"widths": [8, 16], "blocks": [1, 1]} for r3d_tiny'
    )
    frames: int = _setting(8, "frames per clip in pretraining and retrieval")
    stride: int = _setting(1, "frame stride of a clip in pretraining and retrieval")
    size: int = _setting(32, "crop size in pixels (the paper: 112 or 224)")
    resize: int | None = _setting(
        None, "short side the frames are resized to before cropping (none: native; the paper: 256 for 224 crops)"
    )
    finetune_frames: int | None = _setting(None, "frames per finetuning clip (none: frames; the paper: 64)")
    finetune_stride: int | None = _setting(None, "finetuning stride (none: stride; the paper: 1)")
    finetune_size: int | None = _setting(None, "finetuning crop size (none: size)")
    # The embedded benchmark's classes are directions (left/right, clockwise/counter-clockwise):
    # a horizontal flip would swap labels, so it is off; crops keep most of the frame.
    flip: bool = _setting(False, "random horizontal flips (off: the benchmark's classes are directions)")
    crop_scale: tuple[float, float] = _setting((0.6, 1.0), "area range of random crops, as shares of the frame")
    test_clips: int = _setting(2, "clips per video for video-level accuracy and for features")
    # ------------------------------------------------------------------ pretraining
    pretrain_steps: int = _setting(300, "pretraining steps")
    pretrain_batch: int = _setting(64, "pretraining batch (clips)")
    pretrain_lr: float = _setting(0.03, "pretraining learning rate (SGD)")
    queue_size: int = _setting(1024, "negatives in the MoCo queue (the paper: 3569)")
    extra_negative: bool = _setting(False, "BE with the intra-video negative (another time of the same video)")
    # ------------------------------------------------------------------ finetuning
    # The default recipe is the embedded benchmark's: with the paper's SGD (lr 0.05 here) and
    # dropout 0.5, a CPU budget of 12 epochs ends before even the unbiased ceiling leaves
    # chance; AdamW with a one-epoch warm-up and no dropout got it to about 50 % on benchmark v1
    # (bench/RESULTS.md, "finetuning recipe"). On v5, whose actor is slower, 12 epochs leave it
    # near chance and chapter 2's 40 reach about 65 %: chapter 7 reads the table against that run
    # (answers.for_scale). The paper's: sgd, lr 0.001, wd 1e-8, dropout 0.5.
    finetune_epochs: int = _setting(8, "finetuning epochs")
    finetune_batch: int = _setting(32, "finetuning batch (clips)")
    finetune_optimizer: str = _setting(
        "adamw",
        "finetuning optimiser (adamw: the benchmark's recipe; the paper: sgd)",
        choices=lambda: tuple(OPTIMIZERS),
    )
    finetune_lr: float = _setting(1e-3, "finetuning learning rate (the paper: 0.001 with sgd)")
    finetune_weight_decay: float = _setting(0.05, "finetuning weight decay (the paper: 1e-8 with sgd)")
    finetune_dropout: float = _setting(0.0, "dropout before the classifier (the paper: 0.5)")
    finetune_warmup_epochs: float = _setting(1.0, "linear learning-rate warm-up, in epochs (the paper: 0)")
    # ------------------------------------------------------------------ machine (not part of any result)
    workers: int = _setting(2, "data-loading processes")
    jobs: int = _setting(
        1,
        "units of one stage run at once (the runs of a stage are independent), each in its own process "
        "with an equal share of the CPU threads; 1: one after the other in this process (one GPU: 1)",
    )
    device: str = _setting("auto", "cpu, cuda, cuda:N or auto")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _convert(f.name, getattr(self, f.name), setting_types()[f.name]))
            allowed = setting_choices(f.name)
            values = getattr(self, f.name) if isinstance(getattr(self, f.name), tuple) else (getattr(self, f.name),)
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                raise ValueError(f"{f.name}: unknown {bad}; choose from {', '.join(allowed)}")
        if "camera" in self.synth:
            raise ValueError("synth: the camera is each condition's name (conditions), not a field of synth")
        try:
            config_for(self.synth_size, **self.synth)  # an unknown field or a bad value, named now
        except ValueError as e:
            raise ValueError(f"synth: {e}") from None
        if not self.synthetic:
            missing = [c for c in self.conditions if c not in self.data_dirs]
            if missing:
                raise ValueError(f"synthetic=False needs data_dirs for every condition; missing {missing}")
            self.rows = tuple(r for r in self.rows if r not in _BENCHMARK_ONLY_ROWS)
            self.unbiased_split = self.background_split = self.motion_split = None
            self.scufo_splits = tuple(s for s in self.scufo_splits if s in self.test_splits)
        if self.jobs < 1:
            raise ValueError(f"jobs must be at least 1 (units run at once), got {self.jobs}")
        check_counterfactuals("compare", self.test_splits, self.scufo_splits, self.extra_tests, self.contrastive_pairs)
        for cond, src in self.pretrain_from.items():
            if cond not in self.conditions:
                continue  # e.g. the paper's hmdb51 <- ucf101 when only ucf101 runs
            if src not in self.conditions:
                raise ValueError(
                    f"pretrain_from: {cond!r} <- {src!r} must both be conditions ({list(self.conditions)})"
                )
            if src in self.pretrain_from:
                raise ValueError(
                    f"pretrain_from: {cond!r} <- {src!r}, which itself reuses "
                    f"{self.pretrain_from[src]!r}; point at the condition that pretrains"
                )
            missing = sorted(set(self.conditions[cond]) - set(self.conditions[src]))
            if missing:
                raise ValueError(f"pretrain_from: {cond!r} has seeds {missing} that {src!r} does not pretrain")

    def synth_config(self, condition: str, **overrides: Any) -> SynthConfig:
        """The embedded benchmark of ``condition`` (a camera): the preset ``synth_size`` with the
        fields of ``synth`` and ``overrides`` (e.g. ``seed``) replaced."""
        return config_for(self.synth_size, **{**self.synth, **overrides}, camera=condition)

    @property
    def ssl_rows(self) -> tuple[str, ...]:
        """The rows of this comparison that pretrain (in ``rows`` order)."""
        return tuple(r for r in self.rows if r in SSL_ROWS)

    @property
    def ft_frames(self) -> int:
        """Frames per finetuning clip (``finetune_frames``, else ``frames``)."""
        return self.finetune_frames or self.frames

    @property
    def ft_stride(self) -> int:
        """Finetuning stride (``finetune_stride``, else ``stride``)."""
        return self.finetune_stride or self.stride

    @property
    def ft_size(self) -> int:
        """Finetuning crop size (``finetune_size``, else ``size``)."""
        return self.finetune_size or self.size


def setting_names() -> tuple[str, ...]:
    """The fields of :class:`CompareConfig`, in definition order."""
    return tuple(f.name for f in dataclasses.fields(CompareConfig))


def setting_doc(name: str) -> str:
    """The documentation of the setting ``name``."""
    return CompareConfig.__dataclass_fields__[name].metadata["doc"]


def setting_choices(name: str) -> tuple[str, ...] | None:
    """The values the setting ``name`` (or each of its items) may take; ``None``: any."""
    choices = CompareConfig.__dataclass_fields__[name].metadata["choices"]
    return choices() if choices is not None else None


_TYPES: dict[str, Any] = {}


def setting_types() -> Mapping[str, Any]:
    """Field name -> its type (annotations resolved)."""
    if not _TYPES:
        _TYPES.update(typing.get_type_hints(CompareConfig))
    return _TYPES


def _convert(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` of field ``name`` says (JSON lists -> tuples, ints -> floats,
    paths -> strings, dict values converted); ``ValueError`` naming the field when it is of another type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(name, value, next(a for a in args if a is not type(None)))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {value!r}")
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            raise ValueError(f"{name} must have {len(item_types)} items, got {value!r}")
        return tuple(_convert(name, v, t) for v, t in zip(value, item_types))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a mapping (JSON object), got {value!r}")
        return {str(k): _convert(f"{name}[{k!r}]", v, args[1]) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ValueError(f"{name} must be {hint.__name__}, got {value!r}")
    return value
