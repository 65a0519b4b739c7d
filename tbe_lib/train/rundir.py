"""Run directories: everything a run writes lives in one folder.

RUN/
  config.json        the full configuration (dataclasses as dicts)
  environment.json   versions, git commit, device, command line, world size
  metrics.jsonl      one JSON object per logged step (and per evaluation)
  train.log          the same steps as lines of text, and each session's start and summary
  tb/                TensorBoard events files of the logged scalars (when tensorboard is installed)
  checkpoints/last.pt      latest training state (atomic writes; resume from here)
  encoder.pt         the final encoder weights (for finetuning / retrieval)
  .lock              the PID and host of the process writing it (one writer at a time)
"""

from __future__ import annotations

import atexit
import dataclasses
import errno
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import torch

from ..environment import run_environment

__all__ = ["RunDir", "RunDirBusy", "read_metrics", "to_jsonable"]


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


class RunDirBusy(RuntimeError):
    """Another live process holds the run directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunDir:
    """A run's folder. Only the main process writes (``main=False`` makes every write a no-op).

    One writer: the main process holds ``RUN/.lock`` (its PID, host and start time) from
    creation until :meth:`release` (or exit), so a second run on the same folder is refused
    at once (:class:`RunDirBusy`). A lock left by a dead process of this host is taken over
    with a warning; temporary checkpoint files left by a killed write are removed."""

    def __init__(self, path: str | os.PathLike, *, main: bool = True, lock: bool = True) -> None:
        self.path = Path(path)
        self.main = main
        self._locked = False
        if main:
            if self.path.exists() and not self.path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "it is a file, a run directory is expected", str(self.path))
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
            if lock:
                self._acquire()
            for tmp in (self.path / "checkpoints").glob(".*.tmp"):  # left by a write that was killed
                tmp.unlink(missing_ok=True)

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def _acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(3):
            try:
                fd = os.open(self.lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    holder = json.loads(self.lock_file.read_text() or "{}")
                except (OSError, json.JSONDecodeError):
                    holder = {}
                pid, host = holder.get("pid"), holder.get("host")
                if host == me["host"] and (pid == me["pid"] or not isinstance(pid, int) or not _pid_alive(pid)):
                    if pid != me["pid"]:
                        warnings.warn(
                            f"{self.path}: taking over the lock of process {pid}, which is no longer "
                            "running (an interrupted run)",
                            RuntimeWarning,
                            stacklevel=3,
                        )
                    self.lock_file.unlink(missing_ok=True)
                    continue
                raise RunDirBusy(
                    f"{self.path} is in use by process {pid} on {host} (since {holder.get('started', '?')}): wait for "
                    f"that run to finish or choose another --run-dir; if it is dead, delete {self.lock_file}"
                ) from None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(me) + "\n")
            self._locked = True
            atexit.register(self.release)
            return
        raise RunDirBusy(f"could not take the lock {self.lock_file}; delete it if no run is using {self.path}")

    def release(self) -> None:
        """Give up the lock (idempotent; only our own lock file is removed)."""
        if not self._locked:
            return
        self._locked = False
        try:
            holder = json.loads(self.lock_file.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return
        if holder.get("pid") == os.getpid():
            self.lock_file.unlink(missing_ok=True)

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_file(self) -> Path:
        return self.path / "train.log"

    def write_json(self, name: str, obj: Any) -> None:
        if not self.main:
            return
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path / name)

    def write_environment(self, device: torch.device, world_size: int = 1) -> None:
        env = {
            **run_environment(device),
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
