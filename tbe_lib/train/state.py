"""Training state in checkpoints: RNG states and the compatibility check on resume.

Everything stored is a tensor or a plain container, so checkpoints load with
``torch.load(weights_only=True)`` (``tbe_lib.utils.safe_load``)."""

from __future__ import annotations

import random
from typing import Any, Mapping

import numpy as np
import torch

__all__ = ["capture_rng", "restore_rng", "check_compatible", "IncompatibleCheckpoint"]


class IncompatibleCheckpoint(ValueError):
    """A checkpoint from another architecture, method or task."""


def capture_rng(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Python, NumPy, torch (CPU and CUDA) RNG states, plus named generators."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    return state


def restore_rng(state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Inverse of :func:`capture_rng`.

    Every RNG state is a CPU byte tensor for torch (``set_rng_state`` and
    ``Generator.set_state`` take nothing else, whatever the generator's device), so states
    are copied to the CPU first: a checkpoint loaded with ``map_location="cuda"`` restores too."""
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], _cpu(n["keys"]).numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(_cpu(state["torch"]))
    if torch.cuda.is_available() and state.get("cuda"):
        cuda_states = [_cpu(s) for s in state["cuda"]][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)
    for k, g in (generators or {}).items():
        if k in state.get("generators", {}):
            g.set_state(_cpu(state["generators"][k]))


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu() if isinstance(t, torch.Tensor) else torch.as_tensor(t)


def _to_tuple(x: Any) -> Any:
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def check_compatible(ckpt: Mapping[str, Any], expected: Mapping[str, Any], source: str) -> None:
    """Refuse a checkpoint whose ``meta`` (task, method, architecture) differs from ``expected``.

    ``expected`` holds the keys that must match, e.g. ``{"task": "pretrain", "method": "be",
    "arch": {...}}``; the error names the file and both values."""
    meta = ckpt.get("meta", {})
    for key, want in expected.items():
        got = meta.get(key)
        if got != want:
            raise IncompatibleCheckpoint(
                f"checkpoint {source} has {key}={got!r} but this run has {key}={want!r}; "
                "resume only with the configuration that wrote it (see its run's config.json), "
                "or start a new run directory"
            )
