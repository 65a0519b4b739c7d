"""Backbone registry: one name -> one factory, one signature.

Every registered factory returns an ``nn.Module`` that maps a clip batch
``(B, 3, T, H, W)`` to a 5-D feature map ``(B, C, t, h, w)`` and has an integer
attribute ``feature_dim`` (= C). :func:`build_backbone` also attaches
``module.arch = {"backbone": name, "backbone_kwargs": {...}}`` with *every* keyword
argument resolved (defaults included), so that a checkpoint records exactly which
architecture its weights belong to (see :mod:`tbe_lib.models.weights`).

Adding a backbone::

    @register_backbone("my_net")
    def my_net(*, width: int = 64) -> nn.Module:
        ...
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch.nn as nn

__all__ = ["register_backbone", "build_backbone", "list_backbones", "plain_kwargs"]

BackboneFactory = Callable[..., nn.Module]
_BACKBONES: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Decorator registering ``factory`` under ``name`` (names are unique)."""

    def decorator(factory: BackboneFactory) -> BackboneFactory:
        if name in _BACKBONES and _BACKBONES[name] is not factory:
            raise ValueError(f"backbone {name!r} is already registered (by {_BACKBONES[name].__module__})")
        _BACKBONES[name] = factory
        return factory

    return decorator


def list_backbones() -> list[str]:
    """Names accepted by :func:`build_backbone`, sorted."""
    return sorted(_BACKBONES)


def plain_kwargs(value: Any) -> Any:
    """Tuples -> lists, recursively: the form recorded in ``arch`` (JSON- and
    ``weights_only``-friendly, and comparable whatever sequence type was passed)."""
    if isinstance(value, (list, tuple)):
        return [plain_kwargs(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_kwargs(v) for k, v in value.items()}
    return value


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """Build backbone ``name``: ``(B, 3, T, H, W) -> (B, feature_dim, t, h, w)``.

    Raises ``ValueError`` for an unknown name (listing the known ones) or a keyword the
    backbone does not take (listing the ones it does)."""
    if name not in _BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; available backbones: {', '.join(list_backbones())}")
    factory = _BACKBONES[name]
    signature = inspect.signature(factory)
    try:
        bound = signature.bind(**kwargs)
    except TypeError as e:
        accepted = [p for p in signature.parameters if p != "self"]
        raise ValueError(
            f"backbone {name!r} does not accept {sorted(kwargs)} ({e}); its keyword arguments are: {accepted or 'none'}"
        ) from None
    bound.apply_defaults()
    module = factory(**bound.arguments)
    if not isinstance(getattr(module, "feature_dim", None), int):
        raise TypeError(f"backbone factory {name!r} returned a module without an int `feature_dim` attribute")
    module.arch = {"backbone": name, "backbone_kwargs": plain_kwargs(dict(bound.arguments))}
    return module
