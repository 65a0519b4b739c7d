"""Checkpoints: weights are data, kept apart from code.

* :func:`checkpoint_dict` turns a model (plus extra plain metadata) into
  ``{"arch": model.arch, "state_dict": {name: tensor}, **extra}``: tensors and plain
  Python values only, so ``torch.load(..., weights_only=True)`` (``tbe_lib.utils.safe_load``)
  reads it back. Write it with ``tbe_lib.utils.atomic_save``.
* :func:`load_weights` loads a file or dict into a model, checking the architecture
  first, normalising key prefixes, refusing shape mismatches, and returning a
  :class:`LoadReport`.
* :func:`model_from_checkpoint` rebuilds the recorded architecture and loads it.

Accepted sources: our checkpoint dicts, a bare ``state_dict`` (name -> tensor), or the
paper code's ``{"model": state_dict, ...}``. Key prefixes that are stripped:
``module.`` (DataParallel/DDP, leading) and ``_orig_mod.`` (``torch.compile``, anywhere);
then the best of ``encoder_q.`` / ``encoder.`` / ``backbone.`` (MoCo-style encoders, or a
whole-model checkpoint loaded into a bare backbone) is chosen automatically, or the one
given as ``prefix=``. A bare-backbone checkpoint loads into a ``VideoModel`` too.
"""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from ..utils import safe_load
from .model import VideoModel, build_model
from .registry import plain_kwargs

__all__ = ["LoadReport", "checkpoint_dict", "load_weights", "model_from_checkpoint", "unwrap_model"]

_WRAPPER_PREFIX = "module."
_COMPILE_COMPONENT = "_orig_mod"
_AUTO_PREFIXES = ("", "encoder_q.", "encoder.", "backbone.")
_PLAIN_SCALARS = (bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device, torch.Size)
_PLAIN_CONTAINERS = (dict, OrderedDict, list, tuple)


@dataclass
class LoadReport:
    """What :func:`load_weights` did.

    ``loaded``: model keys that received checkpoint values. ``missing``: model keys the
    checkpoint lacks (left as they were). ``unexpected``: checkpoint keys the model lacks.
    ``skipped``: checkpoint keys not loaded on purpose (the head when ``load_head=False``,
    keys outside the selected prefix). ``prefix``: the prefix stripped from checkpoint keys
    (after ``module.``/``_orig_mod.``), ``added``: a prefix added (``"backbone."`` when a
    bare-backbone checkpoint goes into a ``VideoModel``).
    """

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    head_loaded: bool = True
    prefix: str = ""
    added: str = ""

    @property
    def complete(self) -> bool:
        """True when nothing is missing or unexpected."""
        return not self.missing and not self.unexpected

    def __str__(self) -> str:
        def show(keys: list[str], limit: int = 8) -> str:
            more = f", ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
            return ", ".join(keys[:limit]) + more if keys else "none"

        lines = [f"loaded {len(self.loaded)} tensors from {self.source}"]
        if self.prefix or self.added:
            lines.append(f"  key prefix: stripped {self.prefix!r}, added {self.added!r}")
        lines.append(f"  head: {'loaded' if self.head_loaded else 'not loaded (load_head=False), kept as initialised'}")
        lines.append(f"  missing ({len(self.missing)}): {show(self.missing)}")
        lines.append(f"  unexpected ({len(self.unexpected)}): {show(self.unexpected)}")
        lines.append(f"  skipped ({len(self.skipped)}): {show(self.skipped)}")
        return "\n".join(lines)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module under DataParallel/DDP (``.module``) and ``torch.compile`` (``._orig_mod``)."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless ``value`` is tensors/plain containers/scalars (weights_only-loadable)."""
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_SCALARS:
        return
    if type(value) in _PLAIN_CONTAINERS:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            if isinstance(value, dict) and type(k) not in (str, int):
                raise TypeError(f"checkpoint_dict: {where} has a key of type {type(k).__name__}; use str or int keys")
            _check_plain(v, f"{where}[{k!r}]")
        return
    hint = " (use vars(args))" if type(value).__name__ == "Namespace" else ""
    hint = hint or (" (use dataclasses.asdict)" if hasattr(value, "__dataclass_fields__") else "")
    hint = hint or (" (use str(path))" if isinstance(value, os.PathLike) else "")
    hint = hint or (" (use .item() / .tolist() or torch.as_tensor)" if type(value).__module__ == "numpy" else "")
    raise TypeError(
        f"checkpoint_dict: {where} is a {type(value).__module__}.{type(value).__name__}, which "
        f"torch.load(weights_only=True) refuses; convert it to tensors/dict/list/str/int/float{hint}"
    )


def checkpoint_dict(model: nn.Module, **extra: Any) -> dict[str, Any]:
    """``{"arch": model.arch, "state_dict": {key: cpu tensor copy}, **extra}``.

    ``extra`` (epoch, optimizer state, config dict, metrics...) must be tensors and plain
    containers/scalars; anything else raises ``TypeError`` naming the entry. Wrappers
    (DataParallel, DDP, ``torch.compile``) are removed so keys are wrapper-free."""
    for reserved in ("arch", "state_dict"):
        if reserved in extra:
            raise ValueError(f"checkpoint_dict: {reserved!r} is set from the model; do not pass it as an extra")
    for key, value in extra.items():
        _check_plain(value, f"extra[{key!r}]")
    target = unwrap_model(model)
    state = {k: v.detach().to("cpu", copy=True) for k, v in target.state_dict().items()}
    return {"arch": copy.deepcopy(getattr(target, "arch", None)), "state_dict": state, **extra}


def _read(source: str | os.PathLike | Mapping[str, Any]) -> tuple[str, Any]:
    if isinstance(source, (str, os.PathLike)):
        return str(source), safe_load(source)  # weights_only=True; clear errors for bad files
    if isinstance(source, _Named):
        return source.name, source
    if isinstance(source, Mapping):
        return "<in-memory checkpoint>", source
    raise TypeError(f"load_weights: source must be a path or a dict, got {type(source).__name__}")


def _split_checkpoint(ckpt: Any, name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """-> (state_dict, arch or None)."""
    if not isinstance(ckpt, Mapping):
        raise ValueError(f"checkpoint {name} holds a {type(ckpt).__name__}, not a dict of weights")
    arch = ckpt.get("arch") if isinstance(ckpt.get("arch"), Mapping) else None
    for key in ("state_dict", "model"):  # ours, then the paper code's {"model": ...}
        if isinstance(ckpt.get(key), Mapping):
            return dict(ckpt[key]), arch
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return dict(ckpt), None
    raise ValueError(
        f"checkpoint {name} has no weights: expected a 'state_dict' entry or a flat name -> tensor dict, "
        f"found keys {list(ckpt)[:10]}"
    )


def _describe(arch: Mapping[str, Any]) -> str:
    return f"backbone {arch.get('backbone')!r} with kwargs {plain_kwargs(arch.get('backbone_kwargs', {}))}"


def _head_signature(head: Any) -> Any:
    """Head arch without settings that do not change weights (dropout)."""
    return None if head is None else {k: v for k, v in plain_kwargs(dict(head)).items() if k != "dropout"}


def _check_arch(
    ckpt_arch: Mapping[str, Any] | None, model_arch: Mapping[str, Any] | None, name: str, load_head: bool
) -> None:
    if not ckpt_arch or not model_arch or model_arch.get("backbone") is None:
        return  # nothing recorded on one side: the key and shape checks still apply
    same_name = ckpt_arch.get("backbone") == model_arch.get("backbone")
    ckpt_kw = plain_kwargs(dict(ckpt_arch.get("backbone_kwargs") or {}))
    model_kw = plain_kwargs(dict(model_arch.get("backbone_kwargs") or {}))
    if not same_name or ckpt_kw != model_kw:
        what = (
            "backbone"
            if not same_name
            else "backbone kwargs "
            + str(
                sorted(
                    k for k in set(ckpt_kw) | set(model_kw) if ckpt_kw.get(k, "<unset>") != model_kw.get(k, "<unset>")
                )
            )
        )
        call = ", ".join([repr(ckpt_arch.get("backbone"))] + [f"{k}={v!r}" for k, v in ckpt_kw.items()])
        raise ValueError(
            f"checkpoint {name} was saved from {_describe(ckpt_arch)} but the model is {_describe(model_arch)} "
            f"(they differ in {what}); build the model with build_model({call}) or use "
            f"tbe_lib.models.model_from_checkpoint(...)"
        )
    if load_head and "head" in ckpt_arch and "head" in model_arch:
        ckpt_head, model_head = _head_signature(ckpt_arch["head"]), _head_signature(model_arch["head"])
        if ckpt_head != model_head:
            raise ValueError(
                f"checkpoint {name} has head {ckpt_head} but the model has head {model_head}; "
                "pass load_head=False to load the backbone only (e.g. finetuning a classifier "
                "from a projection-head pretraining checkpoint)"
            )


def _strip_wrappers(key: str) -> str:
    parts = [p for p in key.split(".") if p != _COMPILE_COMPONENT]
    while len(parts) > 1 and parts[0] + "." == _WRAPPER_PREFIX:
        parts = parts[1:]
    return ".".join(parts)


def _align_keys(
    state: dict[str, Any], model_keys: set[str], prefix: str | None, name: str
) -> tuple[dict[str, Any], list[str], str, str]:
    """Choose the (strip, add) prefix pair matching most model keys.

    -> (mapped state, checkpoint keys outside the prefix, stripped, added)."""
    if prefix is not None and prefix and not prefix.endswith("."):
        prefix += "."
    candidates = (prefix,) if prefix is not None else _AUTO_PREFIXES
    best: tuple[int, str, str, dict[str, Any]] | None = None
    for strip in candidates:
        sub = {k[len(strip) :]: v for k, v in state.items() if k.startswith(strip)}
        for add in ("", "backbone."):
            mapped = {add + k: v for k, v in sub.items()}
            score = len(mapped.keys() & model_keys)
            if best is None or score > best[0]:
                best = (score, strip, add, mapped)
    assert best is not None
    score, strip, add, mapped = best
    if score == 0:
        raise ValueError(
            f"no key of checkpoint {name} matches the model"
            + (f" under prefix {prefix!r}" if prefix is not None else "")
            + f": checkpoint keys look like {sorted(state)[:4]}, model keys like {sorted(model_keys)[:4]}; "
            "pass prefix='...' naming the part of the checkpoint to load (e.g. 'encoder_q.')"
        )
    outside = sorted(k for k in state if not k.startswith(strip))
    return mapped, outside, strip, add


def load_weights(
    model: nn.Module,
    source: str | os.PathLike | Mapping[str, Any],
    *,
    strict: bool = False,
    load_head: bool = True,
    prefix: str | None = None,
) -> LoadReport:
    """Load weights from ``source`` (a path, read with ``weights_only=True``, or a dict).

    Raises ``ValueError`` if the checkpoint's recorded backbone (name or kwargs) differs
    from the model's, if its head differs while ``load_head=True``, if any tensor's shape
    differs (naming the keys), or, with ``strict=True``, if any key is missing or
    unexpected. ``load_head=False`` leaves ``model.head`` untouched (finetuning from a
    pretraining checkpoint). ``prefix`` selects and strips a sub-model (``"encoder_q."``);
    by default it is chosen automatically (see module docstring)."""
    target = unwrap_model(model)
    name, ckpt = _read(source)
    state, ckpt_arch = _split_checkpoint(ckpt, name)
    _check_arch(ckpt_arch, getattr(target, "arch", None), name, load_head)

    state = {_strip_wrappers(k): v for k, v in state.items()}
    model_state = target.state_dict()
    model_keys = set(model_state)
    state, skipped, stripped, added = _align_keys(state, model_keys, prefix, name)

    head_keys: set[str] = set()
    if not load_head:
        head_keys = {k for k in model_keys if k.startswith("head.")}
        skipped += sorted(stripped + k for k in state if k.startswith("head."))
        state = {k: v for k, v in state.items() if not k.startswith("head.")}

    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(model_state[k].shape)}"
        for k, v in state.items()
        if k in model_state and isinstance(v, torch.Tensor) and v.shape != model_state[k].shape
    ]
    if mismatched:
        raise ValueError(
            f"checkpoint {name} does not fit the model: shape mismatch for {len(mismatched)} key(s): "
            + "; ".join(mismatched[:10])
            + ". The checkpoint was saved from a different architecture (e.g. other widths or number "
            "of classes); build the matching model, or use load_head=False for a new classifier."
        )
    loaded = sorted(k for k in state if k in model_keys)
    report = LoadReport(
        source=name,
        loaded=loaded,
        missing=sorted(model_keys - set(state) - head_keys),
        unexpected=sorted(set(state) - model_keys),
        skipped=skipped,
        head_loaded=load_head,
        prefix=stripped,
        added=added,
    )
    if strict and not report.complete:
        raise ValueError(f"strict loading failed for checkpoint {name}:\n{report}")
    target.load_state_dict({k: state[k] for k in loaded}, strict=False)
    return report


def model_from_checkpoint(source: str | os.PathLike | Mapping[str, Any], *, strict: bool = True) -> VideoModel:
    """Rebuild the architecture recorded in ``source["arch"]`` and load its weights."""
    name, ckpt = _read(source)
    _, arch = _split_checkpoint(ckpt, name)
    if not arch or not arch.get("backbone"):
        raise ValueError(
            f"checkpoint {name} records no architecture ('arch'); build the model with build_model(...) "
            "and call load_weights(model, ...)"
        )
    head = arch.get("head")
    head_kw: dict[str, Any] = {"head": None}
    if head is not None and head.get("kind") == "projection":
        head_kw = {"head": "projection", "proj_dim": head["out_dim"], "proj_hidden": head.get("hidden_dim")}
    elif head is not None and head.get("kind") == "classifier":
        head_kw = {"head": "classifier", "num_classes": head["num_classes"], "dropout": head.get("dropout", 0.5)}
    elif head is not None:
        raise ValueError(f"checkpoint {name} has a head of unknown kind {head.get('kind')!r}")
    model = build_model(arch["backbone"], **head_kw, **dict(arch.get("backbone_kwargs") or {}))
    load_weights(model, _Named(ckpt, name), strict=strict)
    return model


class _Named(dict):
    """A dict that remembers the file it came from (for error messages)."""

    def __init__(self, data: Mapping[str, Any], name: str) -> None:
        super().__init__(data)
        self.name = name
