"""Running a comparison: the steps of :mod:`.plan`, each reused when current (:mod:`.staleness`)
and made otherwise.

The way down, once: a :class:`~tbe_lib.experiment.CompareConfig` -> :func:`~.plan.steps` (the
configuration of every run) -> for each step, :func:`bring_up_to_date` (its key against its
record; a stale unit's outputs moved aside) -> the stage's own function (``pretrain``,
``finetune``, ``retrieve``, :func:`~.cam.measure_actor_mass`) with the step's configuration.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..data.synth import config_for, generate
from ..finetune import FinetuneConfig, evaluate_run, finetune
from ..pretrain import PretrainConfig, pretrain
from ..retrieve import retrieve
from ..train.rundir import to_jsonable
from .cam import measure_actor_mass
from .config import CompareConfig
from .plan import STAGES, Step, data_source, run_step, steps
from .staleness import Unit, differences, legacy_differences, move_aside, write_record

__all__ = ["run_comparison", "bring_up_to_date", "retire_if_changed", "ensure_data"]


def _log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# What each stage runs, given its step's configuration.
_EXECUTE: Mapping[str, Callable[[Any, bool], Any]] = {
    "pretrain": lambda cfg, progress: pretrain(cfg, resume=True),  # an interrupted run continues
    "finetune": lambda cfg, progress: finetune(cfg, resume=True),  # a run killed after training resumes
    "evaluate": lambda cfg, progress: evaluate_run(cfg),  # a finished run's counterfactual tests
    "retrieve": lambda cfg, progress: retrieve(cfg, progress=progress),
    "cam": lambda cfg, progress: measure_actor_mass(cfg),
}


def _unit(step: Step) -> Unit:
    return Unit.of(step.record, step.settings, step.input_files)


def _stale(step: Step, unit: Unit) -> list[str]:
    """Why the unit there is not ``unit`` ([] when it is, or when nothing is there). A unit
    without a record (made before records existed) is judged by the rules of its time."""
    changes = differences(unit)
    if changes is None and any(p.exists() for p in step.outputs):
        changes = legacy_differences(unit, step.config)
    return changes or []


def _retire(step: Step, changes: list[str]) -> None:
    why = "; ".join(changes[:4]) + (" ..." if len(changes) > 4 else "")
    for path in step.outputs:
        if path.exists():
            dest = move_aside(path)
            _log(f"{path} was made with other settings or inputs ({why}): moved to {dest.name}, running it again")


def bring_up_to_date(step: Step, *, progress: bool = False) -> bool:
    """Reuse the unit of ``step`` when it is complete and current; otherwise move aside what
    it left with other settings or inputs, record its key and make it. Returns whether it ran.
    The key is recorded before the work starts: an interrupted unit continues under it."""
    unit = _unit(step)
    changes = _stale(step, unit)
    if changes:
        _retire(step, changes)
    if step.done.exists():
        if differences(unit) is None:
            write_record(unit)  # made before records existed, and current: adopted once
        return False
    write_record(unit)
    _log(step.label)
    _EXECUTE[step.stage](step.config, progress)
    return True


def retire_if_changed(config: PretrainConfig | FinetuneConfig) -> bool:
    """A run made with other settings than ``config`` (or, for finetuning, from another
    encoder) is moved aside (``<run>.stale-<time>``, nothing is deleted), so that it is made
    again; returns whether it was. Complete and interrupted runs alike."""
    step = run_step(config)
    changes = _stale(step, _unit(step))
    if changes:
        _retire(step, changes)
    return bool(changes)


def ensure_data(cfg: CompareConfig, condition: str, *, progress: bool = False) -> Path:
    """The data of a condition: on the embedded benchmark, generated when missing (or made
    from another preset); real data is used as it is."""
    out = data_source(cfg, condition)
    if cfg.synthetic:
        generate(out, config_for(cfg.synth_size, camera=condition), progress=progress)
    return out


def run_comparison(cfg: CompareConfig, stages: tuple[str, ...] = STAGES, progress: bool = False) -> Path:
    """Run (or reuse) every unit of the given ``stages``; writes ``out_dir/compare_config.json``
    and returns ``out_dir``."""
    plan = steps(cfg, stages)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare_config.json").write_text(json.dumps(to_jsonable(cfg), indent=2) + "\n")
    for condition in cfg.conditions:
        ensure_data(cfg, condition, progress=progress)
    for step in plan:
        bring_up_to_date(step, progress=progress)
    return out
