"""Settings that several stages share: where the data are and how clips are cut and
augmented (:class:`DataConfig`), and the optimiser with its schedule (:class:`OptimConfig`).

Each stage's own configuration (``PretrainConfig``, ``FinetuneConfig``, ``RetrievalConfig``)
holds these; the command line and the experiment's configuration derive from them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch

__all__ = ["DataConfig", "OptimConfig", "OPTIMIZERS", "build_optimizer", "flip_for"]


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
