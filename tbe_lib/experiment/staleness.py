"""When is a unit of work current? One rule for the comparison's runs and the book's notebooks.

A *unit* is a pretraining run, a finetuning run, a retrieval, the activation maps of a
condition and seed, or an executed notebook of the book. It is described by

* its identity **settings**: the values that change what it computes (not the device, the
  loader's processes or the logging; data paths by their last two components, so that a
  project moved or copied elsewhere keeps its runs), and
* its **inputs**: the SHA-256 of the content of each file it reads (an encoder, a finetuned
  model, the notebook's source, the library), never a modification time.

Its *key* is the SHA-256 of both. The key is recorded with the unit's outputs
(:func:`write_record`: ``unit.json`` in a run folder, ``book/.cache/<name>.json`` for a
notebook); a unit whose recorded key differs is stale (:func:`differences` says how), and the
comparison moves its outputs aside (:func:`move_aside`, ``<name>.stale-<time>``: nothing is
deleted) before making it again. Whatever was computed from it then sees a new input digest
and is redone in turn.

Runs made before these records existed are adopted once (:func:`legacy_differences`, the
last section of this module), by the rules of the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..finetune import EVALUATION_FIELDS
from ..train.rundir import to_jsonable

__all__ = [
    "Unit",
    "file_digest",
    "tree_digest",
    "identity",
    "run_settings",
    "retrieval_settings",
    "evaluation_settings",
    "read_record",
    "differences",
    "write_record",
    "move_aside",
    "config_changes",
    "legacy_differences",
    "RECORD_NAME",
]

#: The record of a unit whose outputs are a folder (a run, a retrieval).
RECORD_NAME = "unit.json"

# Settings of a training run (Pretrain- or FinetuneConfig, flattened) that do not change what it
# computes. ``init`` is not compared as a path: the encoder's content is an input instead.
_RUN_NOT_IDENTITY = frozenset(
    {
        "run_dir",
        "init",
        "device",
        "data.workers",
        "data.cache",
        "loop.progress",
        "loop.tensorboard",
        "loop.log_every",
        "loop.checkpoint_every",
    }
)
# A finetuning run's evaluation-only settings (finetune.EVALUATION_FIELDS): they add tests to a
# finished run (its "evaluate" unit, evaluation_settings) and never make it train again.
_EVALUATION_ONLY = frozenset(EVALUATION_FIELDS)
_RUN_PATHS = frozenset({"data.source", "data.root"})
# The same for a RetrievalConfig: ``checkpoint`` is an input (by content), ``batch_size`` only
# sets how many clips pass at once.
_RETRIEVAL_NOT_IDENTITY = frozenset({"out_dir", "checkpoint", "workers", "device", "batch_size"})
_RETRIEVAL_PATHS = frozenset({"data", "root"})


# ------------------------------------------------------------------------------ digests
def _sha(*parts: bytes) -> str:
    """SHA-256 (hex) of length-prefixed parts (so that ``ab|c`` and ``a|bc`` differ)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.hexdigest()


def file_digest(path: str | os.PathLike | None) -> str | None:
    """SHA-256 (16 hex digits) of a file's content; ``None`` when there is no such file."""
    if path is None or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def tree_digest(folder: str | os.PathLike, pattern: str = "*.py") -> str:
    """SHA-256 (hex) over the relative paths and contents of the files matching ``pattern``
    under ``folder`` (``__pycache__`` left out), in sorted order."""
    root = Path(folder)
    parts: list[bytes] = []
    for f in sorted(root.rglob(pattern)):
        if "__pycache__" not in f.parts:
            parts += [f.relative_to(root).as_posix().encode(), f.read_bytes()]
    return _sha(*parts)


def _normal(value: Any) -> Any:
    """JSON values with integral floats as ints, so that ``1`` and ``1.0`` key alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def _canonical(value: Any) -> bytes:
    return json.dumps(_normal(to_jsonable(value)), sort_keys=True, default=str, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- settings
def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _short_path(value: Any) -> Any:
    """A data path by its last two components (``data/synth``, ``ucf101/<list>.txt``)."""
    return "/".join(Path(value).parts[-2:]) if isinstance(value, str) else value


def identity(
    config: Any, *, ignore: frozenset[str] = frozenset(), paths: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A config (dataclass or JSON dict) as flat ``"a.b": value`` settings, without the keys
    in ``ignore`` (and those under them: ``models`` leaves out ``models.be``) and with the
    ``paths`` shortened to their last two components."""
    flat = _flat(to_jsonable(config))
    return {
        k: (_short_path(v) if k in paths else v)
        for k, v in sorted(flat.items())
        if k not in ignore and not any(k.startswith(f"{i}.") for i in ignore)
    }


def _run_ignored(cfg: Any) -> frozenset[str]:
    # a finetuning run (it has epochs) derives its step count from its epochs and the data
    return _RUN_NOT_IDENTITY | ({"loop.steps"} | _EVALUATION_ONLY if hasattr(cfg, "epochs") else set())


def run_settings(cfg: Any) -> dict[str, Any]:
    """The identity settings of a training run (a Pretrain- or FinetuneConfig)."""
    return identity(cfg, ignore=_run_ignored(cfg), paths=_RUN_PATHS)


def evaluation_settings(cfg: Any) -> dict[str, Any]:
    """The identity settings of the counterfactual evaluation of a finished finetuning run (a
    FinetuneConfig): the clips it cuts and the tests it scores (extra tests' list files by
    their last two components; their content is an input of the unit, as is the model's)."""
    flat = identity(cfg, ignore=_RUN_NOT_IDENTITY | {"loop.steps"}, paths=_RUN_PATHS)
    return {
        k: _short_path(v) if k.startswith("extra_tests.") else v
        for k, v in flat.items()
        if k.split(".")[0] in _EVALUATION_ONLY or k in _EVALUATED_WITH
    }


# What the evaluation of a finished run depends on besides its tests (the model is an input).
_EVALUATED_WITH = frozenset(
    {"test_clips", "eval_resize", "data.source", "data.root", "data.frames", "data.stride", "data.size", "data.resize"}
)


def retrieval_settings(cfg: Any) -> dict[str, Any]:
    """The identity settings of a retrieval (a RetrievalConfig)."""
    return identity(cfg, ignore=_RETRIEVAL_NOT_IDENTITY, paths=_RETRIEVAL_PATHS)


# -------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class Unit:
    """One unit of work: where its key is recorded, its identity ``settings`` (JSON values)
    and its ``inputs`` (name -> content digest of an input file, ``None`` when absent)."""

    record: Path
    settings: Mapping[str, Any]
    inputs: Mapping[str, str | None]

    @classmethod
    def of(
        cls,
        record: str | os.PathLike,
        settings: Mapping[str, Any],
        files: Mapping[str, str | os.PathLike | None] | None = None,
    ) -> "Unit":
        """The unit whose input files are ``files`` (name -> path), digested now."""
        return cls(Path(record), dict(settings), {k: file_digest(p) for k, p in (files or {}).items()})

    @property
    def key(self) -> str:
        """SHA-256 (16 hex digits) of the settings and the input digests."""
        return _sha(_canonical(self.settings), _canonical(self.inputs))[:16]


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The record at ``path`` (a JSON object), or ``None`` when absent or unreadable."""
    try:
        rec = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def _diff(
    old: Mapping[str, Any], new: Mapping[str, Any], default: Mapping[str, Any] | None = None, prefix: str = ""
) -> list[str]:
    """``"key: old -> new"`` for each key whose values differ (a key one side lacks counts as
    its ``default``)."""
    default = default or {}
    lines = []
    for k in sorted(old.keys() | new.keys()):
        a, b = old.get(k, default.get(k)), new.get(k, default.get(k))
        if _normal(to_jsonable(a)) != _normal(to_jsonable(b)):
            lines.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return lines


def differences(unit: Unit) -> list[str] | None:
    """How ``unit`` differs from what its record holds: ``[]`` when the keys are equal, else
    ``"key: old -> new"`` lines (settings, then ``input ...``); ``None`` when there is no record."""
    rec = read_record(unit.record)
    if rec is None or "key" not in rec:
        return None
    if rec["key"] == unit.key:
        return []
    lines = _diff(rec.get("settings", {}), unit.settings) + _diff(rec.get("inputs", {}), unit.inputs, prefix="input ")
    return lines or [f"key: {rec['key']!r} -> {unit.key!r}"]


def write_record(unit: Unit, **extra: Any) -> Path:
    """Record ``unit``'s key, settings and inputs (and ``extra`` fields) at ``unit.record``, atomically."""
    unit.record.parent.mkdir(parents=True, exist_ok=True)
    rec = {
        "key": unit.key,
        "settings": dict(unit.settings),
        "inputs": dict(unit.inputs),
        "recorded": time.strftime("%Y-%m-%d %H:%M:%S"),
        **extra,
    }
    tmp = unit.record.with_name(f".{unit.record.name}.tmp")
    tmp.write_text(json.dumps(to_jsonable(rec), indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, unit.record)
    return unit.record


def move_aside(path: str | os.PathLike) -> Path:
    """Rename ``path`` (a folder or a file) to ``<name>.stale-<time>`` beside it; returns the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.stale-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.stale-{stamp}-{n}")
    path.rename(dest)
    return dest


# --------------------------------------------------------------- legacy (before records)
# Until unit records existed (commit 974e566), three mechanisms decided what was current: a
# run folder's config.json (compared by the rule of config_changes), a ``source.json`` beside a
# finetuning run ({"init": digest}) or a retrieval ({"config": settings, "checkpoint": digest}),
# and each row's ``model_sha256`` in actor_mass.json. They are kept only to adopt such units
# once: a unit without a record whose old description matches is given a record and reused.


def config_changes(cfg: Any) -> list[str]:
    """How ``cfg`` (a Pretrain- or FinetuneConfig) differs from the ``config.json`` its run
    directory already holds, as ``"key: old -> new"`` lines ([] when the same, or when no run is
    there). A key one side lacks counts as its default (older ``config.json`` files lack newer
    fields); settings that do not change the result (device, workers, logging), a finetuning
    run's derived step count and the ``init`` path are not compared, data paths only by their
    last two components."""
    saved_path = Path(cfg.run_dir) / "config.json"
    if not saved_path.exists():
        return []
    saved = json.loads(saved_path.read_text())
    ignore, paths = _run_ignored(cfg), _RUN_PATHS
    default = identity(type(cfg)(), ignore=ignore, paths=paths)
    return _diff(identity(saved, ignore=ignore, paths=paths), identity(cfg, ignore=ignore, paths=paths), default)


def legacy_differences(unit: Unit, config: Any = None) -> list[str] | None:
    """How a unit made before records existed differs from ``unit`` by the rules of the time
    ([] when it is to be adopted); ``None`` when there is nothing of it. ``config``: the unit's
    Pretrain-, Finetune- or RetrievalConfig (its defaults stand for fields an old unit lacks).
    A ``source.json`` or a model digest the old unit lacks was trusted then and is trusted now."""
    folder = unit.record.parent
    source = read_record(folder / "source.json") or {}
    if (folder / "config.json").exists() and config is not None:  # a training run
        changes = config_changes(config)
        if "init" in source:
            changes += _diff({"init": source["init"]}, {"init": unit.inputs.get("init")}, prefix="input ")
        return changes
    if (folder / "retrieval.json").exists():  # a retrieval
        if "config" not in source:
            return []
        default = retrieval_settings(type(config)()) if config is not None else {}
        return _diff(_flat(source["config"]), unit.settings, default) + _diff(
            {"checkpoint": source.get("checkpoint")}, {"checkpoint": unit.inputs.get("checkpoint")}, prefix="input "
        )
    maps = read_record(folder / "actor_mass.json")
    if maps is not None:  # the activation maps of a condition and seed: each row's model, by content
        saved = {r: v.get("model_sha256") for r, v in maps.get("rows", {}).items()}
        return _diff({r: saved.get(r) for r in unit.inputs}, dict(unit.inputs), prefix="input ")
    return None
