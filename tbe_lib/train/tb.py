"""TensorBoard scalars beside ``metrics.jsonl``: ``RUN/tb/``.

The engine hands every logged record (values already read from the device at the log interval,
so no extra host sync) to :class:`ScalarLog`, which writes its numbers as scalars named
``<group>/<key>`` (``train/loss``, ``train/lr``, ``train/acc``, ``train/clips_per_s``;
``eval/...`` for evaluations) at the record's ``step``. It is on when the ``tensorboard``
package is installed (``torch.utils.tensorboard`` needs it) and silently off otherwise (one
debug-level log message). A resumed run adds a new events file to the same folder; its first
event tells TensorBoard to hide what the interrupted run logged after the checkpoint's step,
as :meth:`RunDir.truncate_metrics` does for ``metrics.jsonl``.

Watch a run with ``tensorboard --logdir RUN`` (or a folder of runs).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ScalarLog", "TB_FOLDER", "NOT_SCALARS"]

_log = logging.getLogger(__name__)

#: The folder of a run's events files.
TB_FOLDER = "tb"
#: Record keys that are not written as scalars (the x axis, and wall time).
NOT_SCALARS = frozenset({"step", "epoch", "time"})


def _writer(folder: Path, purge_step: int | None) -> Any | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # tensorboard is not installed
        _log.debug("TensorBoard logging is off (%s); pip install tensorboard to turn it on", e)
        return None
    return SummaryWriter(log_dir=str(folder), purge_step=purge_step)


class ScalarLog:
    """TensorBoard scalars of one training run, written to ``folder`` (no-op when not ``enabled``
    or when tensorboard is missing). ``start_step``: the step the run starts (or resumes) at."""

    def __init__(self, folder: str | Path, *, enabled: bool = True, start_step: int = 0) -> None:
        self.folder = Path(folder)
        # a resumed run: events of an earlier session after ``start_step`` are hidden by TensorBoard
        self.writer = _writer(self.folder, start_step + 1 if start_step > 0 else None) if enabled else None

    @property
    def active(self) -> bool:
        return self.writer is not None

    def write(self, record: Mapping[str, Any], *, group: str = "train") -> None:
        """The numbers of ``record`` (a ``metrics.jsonl`` record with a ``step``) as scalars."""
        if self.writer is None:
            return
        step = int(record["step"])
        for key, value in record.items():
            if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                self.writer.add_scalar(f"{group}/{key}", float(value), step)

    def close(self) -> None:
        """Flush and close the events file (idempotent)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
