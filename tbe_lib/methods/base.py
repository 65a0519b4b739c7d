"""What every pretraining method shares: its settings, its base class and the registry.

A method is one class in one module of this package, registered by name::

    @register_method("be", label="BE (no extra negative)", variants={"be_inter": ("BE (inter)", {"be_source": "inter"})})
    class BE(MoCoMethod):
        views = ("anchor", "same_frames")           # what the data sampler returns per video
        ...
        def forward(self, views, generator): ...    # -> (loss, metrics)

Registering makes the name known to ``MethodConfig``, ``tbe pretrain --method``, the rows of
``tbe compare`` (and of the book): the method itself, plus its ``variants`` (a row name
mapped to a label and the ``MethodConfig`` fields it changes, e.g. an ablation). Adding a
method is one new module imported by ``tbe_lib/methods/__init__.py``, and its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MethodConfig",
    "Method",
    "MethodSpec",
    "register_method",
    "get_method",
    "METHODS",
    "ROW_SPECS",
    "build_method",
    "classification_loss",
]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class, its label in tables, and its variants
    (row name -> (label, ``MethodConfig`` overrides))."""

    name: str
    cls: type["Method"]
    label: str
    variants: Mapping[str, tuple[str, Mapping[str, Any]]]


_REGISTRY: dict[str, MethodSpec] = {}
#: Registered method names -> :class:`MethodSpec`, in registration order (read-only).
METHODS: Mapping[str, MethodSpec] = MappingProxyType(_REGISTRY)
_ROWS: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
#: Every pretraining row a comparison can have: row name -> (label, method, MethodConfig overrides).
ROW_SPECS: Mapping[str, tuple[str, str, Mapping[str, Any]]] = MappingProxyType(_ROWS)


def register_method(
    name: str, *, label: str | None = None, variants: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None
) -> Callable[[type], type]:
    """Class decorator: make a :class:`Method` known by ``name`` (see the module docstring)."""

    def deco(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"a method named {name!r} is already registered ({_REGISTRY[name].cls.__name__})")
        spec = MethodSpec(name, cls, label or name, MappingProxyType(dict(variants or {})))
        _REGISTRY[name] = spec
        _ROWS[name] = (spec.label, name, MappingProxyType({}))
        for row, (row_label, overrides) in spec.variants.items():
            _ROWS[row] = (row_label, name, MappingProxyType(dict(overrides)))
        cls.name = name
        return cls

    return deco


def get_method(name: str) -> MethodSpec:
    """The registered method ``name`` (``ValueError`` listing the known ones otherwise)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


@dataclass
class MethodConfig:
    """Everything that defines a pretraining method (the backbone is chosen separately).

    Defaults are the paper's (original-code.md §1.3-1.6) except ``queue_size`` (the paper
    uses 3569 on UCF/HMDB-sized data; set it to at most the number of pretraining videos)."""

    method: str = "be"  # a registered name: moco, be, be_triplet, pretext, ...
    dim: int = 128  # embedding size of the projection head
    proj_hidden: int | None = None  # None: one Linear layer (the paper); int: an MLP head
    queue_size: int = 1024
    momentum: float = 0.999
    temperature: float = 0.07
    bn_groups: int = 2  # shuffling-BN groups over all processes (1 disables it)
    extra_negative: bool = False  # the paper's extra negative logit (moco: other video; be: other time)
    be_alpha: float = 0.3  # λ ~ U[0, be_alpha)
    be_lam_per_clip: bool = False  # paper: one λ per batch
    be_source: Literal["intra", "inter"] = "intra"  # paper: intra (the clip's own frame)
    triplet_margin: float = 0.5
    pretext_task: Literal["rotation", "flip", "rotation+flip"] = "rotation"
    pretext_be_weight: float = 1.0

    def __post_init__(self) -> None:
        get_method(self.method)  # a clear error for an unknown name
        if not 0.0 <= self.be_alpha < 1.0:
            raise ValueError(f"be_alpha must be in [0, 1), got {self.be_alpha}")

    @property
    def views(self) -> tuple[str, ...]:
        """Views the sampler must return per video, in order (the method's own rule)."""
        return get_method(self.method).cls.views_for(self)


class Method(nn.Module):
    """Base class of a pretraining method.

    * ``views_for(cfg)`` (class method): the view kinds the data sampler returns per video;
    * ``forward(views, generator) -> (loss, metrics)``: ``views`` are augmented clips
      ``(N, 3, T, H, W)`` in that order; metrics are 0-dim tensors (the engine reads them
      once per log interval, so a step never waits for the device);
    * ``after_step()``: runs after each optimiser step (momentum update, enqueue);
    * ``encoder``: the network handed to finetuning (``encoder.pt``): backbone + projection head.
    """

    name: str = ""
    cfg: MethodConfig
    encoder: nn.Module

    @classmethod
    def views_for(cls, cfg: MethodConfig) -> tuple[str, ...]:
        return ("anchor",)

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def after_step(self) -> None:
        pass

    def backbone_state(self) -> dict[str, Tensor]:
        """State dict of the encoder to transfer to finetuning (backbone + head)."""
        return self.encoder.state_dict()


def classification_loss(logits: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Cross-entropy of a pretext classifier's ``logits`` (N, classes) against ``labels`` (N,),
    with the metrics every method logs: ``acc`` (right answers) and ``p_pos`` (the probability
    given to the right answer), as 0-dim tensors."""
    loss = F.cross_entropy(logits.float(), labels)
    with torch.no_grad():
        acc = (logits.argmax(1) == labels).float().mean()
        p_pos = logits.float().softmax(1).gather(1, labels[:, None]).mean()
    return loss, {"p_pos": p_pos, "acc": acc}


def build_method(backbone: str, cfg: MethodConfig, **backbone_kw: Any) -> Method:
    """The method module for ``cfg`` around a fresh ``backbone`` (a name of the model registry)
    with a projection head of ``cfg.dim``."""
    from ..models import build_model

    encoder = build_model(backbone, head="projection", proj_dim=cfg.dim, proj_hidden=cfg.proj_hidden, **backbone_kw)
    return get_method(cfg.method).cls(encoder, cfg)
