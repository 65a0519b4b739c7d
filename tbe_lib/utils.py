"""Small shared helpers: seeding, atomic checkpoint files, safe loading."""

from __future__ import annotations

import errno
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

__all__ = [
    "seed_everything",
    "atomic_save",
    "safe_load",
    "resolve_device",
    "median_ms",
    "device_sync",
    "device_generator",
    "usable_cpus",
]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity on Linux, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices). ``deterministic`` also asks torch for
    deterministic kernels (slower on GPU; a no-op for most CPU kernels)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``.

    A crash mid-write leaves the previous file intact, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if _disk_full(e):  # torch's writer reports a full disk as "[enforce fail ...] unexpected pos"
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from e
        raise
    return path


def _disk_full(e: BaseException) -> bool:
    while e is not None:
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "No space left on device" in str(e):
            return True
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
    return False


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True``: tensors and plain containers only,
    never arbitrary code. Raises ``FileNotFoundError``/``ValueError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle errors, truncated files, non-weights objects
        raise ValueError(
            f"could not load checkpoint {path} with weights_only=True ({type(e).__name__}: {e}). "
            "It may be truncated, not a tbe_lib checkpoint, or contain pickled code objects "
            "(which are refused on purpose)."
        ) from e


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA if available, else CPU; anything else is passed to torch."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r}: torch {torch.__version__} sees no CUDA GPU here; use --device cpu "
            "(or auto), or install a CUDA build of torch on a machine with a GPU"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} GPU(s) are visible")
    return dev


def device_generator(seed: int, device: str | torch.device) -> torch.Generator:
    """A seeded ``torch.Generator`` on ``device`` when it is a GPU, else on the CPU.

    Random draws made with it (augmentation parameters, BE's λ and frame indices) then stay
    on the device of the data: no host-to-device copy and no synchronisation per step. Its
    state is saved in checkpoints like a CPU generator's (a CPU byte tensor). CUDA and CPU
    generators give different streams: a CPU run and a GPU run of the same seed differ."""
    device = torch.device(device)
    return torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(seed)


def device_sync(device: str | torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (CUDA), or does nothing (CPU)."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def median_ms(
    fn: Callable[[], object], repeats: int = 20, warmup: int = 3, sync: Callable[[], None] | None = None
) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` runs after ``warmup``
    runs (``sync``: e.g. :func:`device_sync` of a GPU, called after each run). Used by the
    benchmarks in ``bench/`` and the book's small in-notebook timings."""
    sync = sync or (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)
