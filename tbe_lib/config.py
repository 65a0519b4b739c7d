"""Settings that several stages share: where the data are and how clips are cut and
augmented (:class:`DataConfig`), and the optimiser with its schedule (:class:`OptimConfig`).

Each stage's own configuration (``PretrainConfig``, ``FinetuneConfig``, ``RetrievalConfig``)
holds these; the command line and the experiment's configuration derive from them.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

__all__ = [
    "DataConfig",
    "OptimConfig",
    "OPTIMIZERS",
    "build_optimizer",
    "flip_for",
    "check_number",
    "same_names",
    "add_stage_parser",
    "add_data_flags",
    "data_from_args",
    "add_optim_flags",
    "optim_from_args",
    "add_device_flags",
]


def check_number(
    owner: str,
    name: str,
    value: float,
    *,
    above: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
) -> None:
    """Refuse a setting up front, with one sentence naming it: not a number, NaN or infinite,
    not an integer when one is due, ``<= above``, ``< minimum`` or ``> maximum``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or float(value).is_integer())
    ok = ok and (above is None or value > above) and (minimum is None or value >= minimum)
    ok = ok and (maximum is None or value <= maximum)
    if not ok:
        bounds = [
            f"> {above:g}" if above is not None else "",
            f">= {minimum:g}" if minimum is not None else "",
            f"<= {maximum:g}" if maximum is not None else "",
        ]
        want = " and ".join(b for b in bounds if b) or "finite"
        raise ValueError(
            f"{owner}: {name} must be {'an integer' if integer else 'a finite number'} {want}, got {value!r}"
        )


@dataclass
class DataConfig:
    """Where the videos are and how clips are cut and augmented.

    ``source``: a list file, or a folder made by ``tbe data synth`` (its ``lists/<split>.txt``
    is used). ``on_error``: ``"raise"`` at the first unreadable video, or ``"skip"`` it (the
    item is replaced by another video; the skipped clips are counted per epoch in
    ``metrics.jsonl`` and the files named in a warning); ``skip_limit``: with ``"skip"``, the
    run stops once more than this fraction of the videos turned out unreadable."""

    source: str = "data/synth"
    split: str = "pretrain"
    root: str | None = None
    frames: int = 8
    stride: int = 1
    size: int = 32  # crop size fed to the network
    resize: int | None = None  # short side after decoding (None: native)
    crop_scale: tuple[float, float] = (0.3, 1.0)
    flip: bool = True
    jitter: tuple[float, float, float, float] | None = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    workers: int = 2
    cache: bool = True
    on_error: str = "raise"
    skip_limit: float = 0.05

    def __post_init__(self) -> None:
        for name in ("frames", "stride", "size"):
            check_number("data", name, getattr(self, name), minimum=1, integer=True)
        if self.resize is not None:
            check_number("data", "resize", self.resize, minimum=1, integer=True)
        check_number("data", "workers", self.workers, minimum=0, integer=True)
        check_number("data", "skip_limit", self.skip_limit, minimum=0, maximum=1)
        if not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"data: crop_scale must satisfy 0 < min <= max <= 1, got {self.crop_scale}")
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"data: on_error must be 'raise' or 'skip', got {self.on_error!r}")


OPTIMIZERS = ("sgd", "adamw")


@dataclass
class OptimConfig:
    """The optimiser and its per-step schedule (warm-up, then cosine, step or constant).

    ``name="sgd"`` (the paper's): SGD with ``momentum`` and L2 ``weight_decay``.
    ``name="adamw"``: AdamW (default betas) with decoupled ``weight_decay`` (typical values
    are larger, e.g. 0.05); ``momentum`` is unused."""

    lr: float = 0.03
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    name: str = "sgd"

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.name!r}")
        check_number("optimizer", "lr", self.lr, above=0)
        check_number("optimizer", "weight_decay", self.weight_decay, minimum=0)
        check_number("optimizer", "momentum", self.momentum, minimum=0, maximum=1)
        check_number("optimizer", "warmup_steps", self.warmup_steps, minimum=0, integer=True)
        if self.schedule not in ("cosine", "step", "constant"):
            raise ValueError(f"optimizer: schedule must be 'cosine', 'step' or 'constant', got {self.schedule!r}")


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig) -> torch.optim.Optimizer:
    """The optimiser ``cfg`` names over ``params`` (see :class:`OptimConfig`)."""
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def flip_for(source: str | os.PathLike, choice: str = "auto") -> bool:
    """Whether horizontal flips are safe: ``"on"``/``"off"`` as given; ``"auto"`` is off for a
    folder made by ``tbe data synth`` (its classes are directions: a flip swaps left/right and
    clockwise/counter-clockwise) and on otherwise (the usual choice on real datasets)."""
    if choice not in ("auto", "on", "off"):
        raise ValueError(f"flip must be 'auto', 'on' or 'off', got {choice!r}")
    if choice != "auto":
        return choice == "on"
    return not (Path(source) / "manifest.json").is_file()


# ------------------------------------------------------------------------------ command line
# The flags of these settings, shared by `tbe pretrain`, `tbe finetune` and `tbe retrieve`.


def add_stage_parser(
    subparsers: argparse._SubParsersAction, name: str, help_text: str, description: str | None
) -> argparse.ArgumentParser:
    """The parser of a stage's command (``tbe NAME``), its module docstring as description."""
    return subparsers.add_parser(
        name, help=help_text, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_data_flags(p: argparse.ArgumentParser, *, training: bool = True) -> None:
    """``--data --root --frames --stride --size --workers`` (the clips), and for training also
    ``--resize --flip --skip-bad-videos --skip-limit``; defaults: :class:`DataConfig`'s."""
    d = DataConfig()
    p.add_argument(
        "--data",
        default=d.source,
        help="list file, list template with {split}, or a folder from 'tbe data synth' (default data/synth)",
    )
    p.add_argument(
        "--root", default=None, help="root of the list's relative paths (default: its header, else its folder)"
    )
    p.add_argument("--frames", type=int, default=d.frames, help=f"frames per clip (default {d.frames})")
    p.add_argument("--stride", type=int, default=d.stride, help=f"frame stride in a clip (default {d.stride})")
    p.add_argument("--size", type=int, default=d.size, help=f"crop size fed to the network (default {d.size})")
    p.add_argument("--workers", type=int, default=d.workers, help=f"loader processes (default {d.workers})")
    if not training:
        return
    p.add_argument("--resize", type=int, default=None, help="short side after decoding (default: native)")
    p.add_argument(
        "--flip",
        default="auto",
        choices=["auto", "on", "off"],
        help="horizontal flips (auto: off on the embedded benchmark, whose classes are directions)",
    )
    p.add_argument(
        "--skip-bad-videos",
        action="store_true",
        help="replace unreadable videos by others instead of stopping (counted per epoch in "
        "metrics.jsonl, files named in a warning)",
    )
    p.add_argument(
        "--skip-limit",
        type=float,
        default=d.skip_limit,
        help="with --skip-bad-videos: stop once more than this fraction of the videos is unreadable "
        f"(default {d.skip_limit})",
    )


def same_names(source: object, names: str) -> dict[str, Any]:
    """``{name: source.name}`` for the space-separated ``names``: settings copied from one
    configuration (or parsed flags) into another that names them alike."""
    return {n: getattr(source, n) for n in names.split()}


def data_from_args(a: argparse.Namespace, split: str, **fields: object) -> DataConfig:
    """The :class:`DataConfig` of :func:`add_data_flags`' flags (training ones), for ``split``."""
    return DataConfig(
        source=a.data,
        split=split,
        flip=flip_for(a.data, a.flip),
        on_error="skip" if a.skip_bad_videos else "raise",
        **same_names(a, "root frames stride size resize workers skip_limit"),
        **fields,
    )


def add_optim_flags(p: argparse.ArgumentParser, defaults: OptimConfig, *, milestones: str | None = None) -> None:
    """``--optimizer --lr --weight-decay --schedule --warmup-steps`` (and ``--milestones --gamma``
    when ``milestones`` names their unit), with a stage's ``defaults``."""
    p.add_argument("--optimizer", default=defaults.name, choices=OPTIMIZERS, help="sgd (the paper's) or adamw")
    p.add_argument("--lr", type=float, default=defaults.lr, help=f"learning rate (default {defaults.lr})")
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--schedule", default=defaults.schedule, choices=["cosine", "step", "constant"])
    p.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    if milestones:
        p.add_argument("--milestones", type=int, nargs="*", default=[], help=f"{milestones} of step decay")
        p.add_argument("--gamma", type=float, default=defaults.gamma)


def optim_from_args(a: argparse.Namespace) -> OptimConfig:
    """The :class:`OptimConfig` of :func:`add_optim_flags`' flags."""
    extra = {"milestones": tuple(a.milestones), "gamma": a.gamma} if hasattr(a, "milestones") else {}
    return OptimConfig(
        name=a.optimizer,
        lr=a.lr,
        weight_decay=a.weight_decay,
        schedule=a.schedule,
        warmup_steps=a.warmup_steps,
        **extra,
    )


def add_device_flags(p: argparse.ArgumentParser, *, training: bool = True) -> None:
    """``--device --seed``, and for training ``--amp --progress --no-tensorboard``."""
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    if training:
        p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
        p.add_argument(
            "--progress",
            default="auto",
            choices=["auto", "bar", "plain", "log", "off"],
            help="auto: a widget bar in Jupyter, a bar in a terminal, plain lines otherwise ($TBE_PROGRESS overrides auto)",
        )
        p.add_argument(
            "--tensorboard",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="TensorBoard scalars in RUN/tb/ when the tensorboard package is installed (default: on)",
        )
