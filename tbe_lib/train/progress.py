"""How a training loop shows its progress, chosen for where it runs.

==========  ===================================================================================
mode        what the run shows
==========  ===================================================================================
notebook    in a Jupyter kernel (JupyterLab, VS Code): tqdm's widget bar (``tqdm.auto``) with its
            ETA, and one summary line at the end; the per-interval lines go only to the run's
            ``train.log`` (the numbers to ``metrics.jsonl``)
bar         in an interactive terminal: a tqdm bar with the loss and clips/s, then the summary
plain       when the output is not a terminal (a file, CI): one line per log interval, no bar and
            no carriage return, then the summary
summary     under papermill (the book's pages): only the summary line; the per-interval lines
            go to ``train.log``, so a page shows results, not logs
off         nothing on screen (``train.log`` and ``metrics.jsonl`` are written all the same)
==========  ===================================================================================

The choice is :func:`choose_mode`, a pure function of the setting and of the surroundings
(:func:`progress_mode` reads them): an explicit setting (``LoopConfig.progress``,
``--progress``) wins; under ``"auto"`` the environment variable ``TBE_PROGRESS`` (``bar``,
``plain``, ``summary``, ``off``; ``log`` is ``plain``) decides, then papermill
(``PAPERMILL_EXECUTION``, which ``tbe reproduce`` sets) means ``summary``, ``CI`` ``plain``, a
Jupyter kernel ``notebook``, a TTY on stderr ``bar``, anything else ``plain``. A bar asked for inside a Jupyter kernel is the widget.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Literal, Mapping

__all__ = ["Mode", "SETTINGS", "ENV_VAR", "choose_mode", "progress_mode", "in_jupyter_kernel", "Progress"]

Mode = Literal["notebook", "bar", "plain", "summary", "off"]

#: The values of ``LoopConfig.progress`` / ``--progress`` (and of ``$TBE_PROGRESS``).
SETTINGS = ("auto", "bar", "plain", "log", "summary", "off")
#: The environment variable that overrides ``"auto"``.
ENV_VAR = "TBE_PROGRESS"


def choose_mode(setting: str, *, env: Mapping[str, str], isatty: bool, in_kernel: bool) -> Mode:
    """The display mode for ``setting`` (one of :data:`SETTINGS`) given the environment
    variables ``env``, whether stderr is a terminal and whether a Jupyter kernel runs us."""
    if setting not in SETTINGS:
        raise ValueError(f"progress must be one of {', '.join(SETTINGS)}, got {setting!r}")
    if setting == "auto":
        setting = env.get(ENV_VAR, "").strip().lower() or "auto"
        if setting not in SETTINGS:
            raise ValueError(f"${ENV_VAR} must be one of {', '.join(SETTINGS)}, got {env[ENV_VAR]!r}")
    if setting == "auto":
        if env.get("PAPERMILL_EXECUTION"):
            return "summary"
        if env.get("CI"):
            return "plain"
        setting = "bar" if in_kernel or isatty else "plain"
    if setting == "log":
        return "plain"
    if setting == "bar" and in_kernel:
        return "notebook"
    return setting  # type: ignore[return-value]


def in_jupyter_kernel() -> bool:
    """Whether this process is a Jupyter kernel (IPython imported, and its shell has a kernel)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # None, or a closed stream
        return False


def progress_mode(setting: str = "auto") -> Mode:
    """:func:`choose_mode` for this process: ``os.environ``, stderr and the Jupyter kernel."""
    return choose_mode(setting, env=os.environ, isatty=_isatty(sys.stderr), in_kernel=in_jupyter_kernel())


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


class Progress:
    """The progress of one training run from step ``initial`` to ``total``.

    :meth:`log` takes each logged record (``step``, ``loss``, ``clips_per_s``, ...): its line
    is appended to ``log_file`` always and printed in mode ``plain``; a bar shows it in its
    postfix. :meth:`advance` moves the bar; :meth:`close` ends it with the summary line."""

    def __init__(self, mode: Mode, *, desc: str, total: int, initial: int, log_file: Path | None = None) -> None:
        self.mode, self.desc, self.total, self.initial, self.log_file = mode, desc, total, initial, log_file
        self.t0 = time.perf_counter()
        self.last: dict[str, Any] = {}
        self.bar = None
        if mode in ("bar", "notebook"):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=True)
        what = f"resuming at step {initial}" if initial else "starting"
        self._write(f"[{desc}] {what} of {total} ({time.strftime('%Y-%m-%d %H:%M:%S')})")

    def _write(self, line: str) -> None:
        if self.log_file is not None:
            with open(self.log_file, "a") as f:
                f.write(line + "\n")

    def line(self, rec: Mapping[str, Any]) -> str:
        """The log line of one record, with the ETA from the mean step time so far."""
        step = rec["step"]
        eta = (time.perf_counter() - self.t0) / max(step - self.initial, 1) * (self.total - step)
        return (
            f"[{self.desc}] step {step}/{self.total} loss {rec['loss']:.4f}"
            + (f" p_pos {rec['p_pos']:.3f}" if "p_pos" in rec else "")
            + f" {rec['clips_per_s']:.1f} clips/s eta {eta:.0f}s"
        )

    def log(self, rec: Mapping[str, Any]) -> None:
        """One logged record: to the log file, and on screen as the mode shows it."""
        self.last = dict(rec)
        line = self.line(rec)
        self._write(line)
        if self.bar is not None:
            self.bar.set_postfix({k: f"{rec[k]:.3g}" for k in ("loss", "p_pos", "clips_per_s") if k in rec})
        elif self.mode == "plain":
            print(line, flush=True)

    def advance(self, n: int = 1) -> None:
        """``n`` more steps done."""
        if self.bar is not None:
            self.bar.update(n)

    def summary(self, step: int) -> str:
        """One line: where the run ended, in how long, and its last logged numbers."""
        done = step - self.initial
        how = "done" if step >= self.total else "stopped"
        text = f"[{self.desc}] {how} at step {step}/{self.total}: {done} steps in {_duration(time.perf_counter() - self.t0)}"
        rec = self.last
        numbers = [f"{k} {rec[k]:.4g}" for k in ("loss", "acc", "p_pos", "train_acc") if k in rec]
        if "clips_per_s" in rec:
            numbers.append(f"{rec['clips_per_s']:.1f} clips/s")
        return text + (f"; {', '.join(numbers)}" if numbers else "")

    def close(self, step: int | None = None) -> None:
        """End the bar; with ``step`` (a run that ended normally) also write the summary line,
        and show it unless the mode is ``off``."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if step is None:
            return
        text = self.summary(step)
        self._write(text)
        if self.mode != "off":
            where = f" (log: {self.log_file})" if self.mode == "notebook" and self.log_file is not None else ""
            print(text + where, flush=True)
