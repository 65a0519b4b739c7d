"""Run directories: everything a run writes lives in one folder.

    RUN/
      config.json        the full configuration (dataclasses as dicts)
      environment.json   versions, git commit, device, command line, world size
      metrics.jsonl      one JSON object per logged step (and per evaluation)
      checkpoints/last.pt      latest training state (atomic writes; resume from here)
      encoder.pt         the final encoder weights (for finetuning / retrieval)
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import torch

__all__ = ["RunDir", "read_metrics", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, paths, tuples and tensors to plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, (torch.device, torch.dtype)):
        return str(obj)
    return obj


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except Exception:
        return None


class RunDir:
    """A run's folder. Only the main process writes (``main=False`` makes every write a no-op)."""

    def __init__(self, path: str | os.PathLike, *, main: bool = True) -> None:
        self.path = Path(path)
        self.main = main
        if main:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    def write_json(self, name: str, obj: Any) -> None:
        if not self.main:
            return
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path / name)

    def write_environment(self, device: torch.device, world_size: int = 1) -> None:
        import tbe_lib

        env = {
            "tbe_lib": tbe_lib.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "platform": platform.platform(),
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "cpu_threads": torch.get_num_threads(),
            "world_size": world_size,
            "git_commit": _git_commit(),
            "argv": sys.argv,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self.write_json("environment.json", env)

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl``."""
        if not self.main:
            return
        with open(self.metrics_file, "a") as f:
            f.write(json.dumps(to_jsonable(record)) + "\n")

    def truncate_metrics(self, after_step: int) -> None:
        """On resume: drop metric lines logged after the checkpoint's step (they will be redone)."""
        if not self.main or not self.metrics_file.exists():
            return
        keep = [r for r in read_metrics(self.metrics_file) if r.get("step", 0) <= after_step]
        tmp = self.metrics_file.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        os.replace(tmp, self.metrics_file)


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (or of ``RUN/metrics.jsonl`` given a run folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.jsonl"
    if not p.exists():
        raise FileNotFoundError(f"no metrics file at {p}: is this a run directory?")
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
