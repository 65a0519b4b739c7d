"""Running a comparison: the steps of :mod:`.plan`, each reused when current (:mod:`.staleness`)
and made otherwise.

The way down, once: a :class:`~tbe_lib.experiment.CompareConfig` -> :func:`~.plan.steps` (the
configuration of every run) -> for each step, :func:`bring_up_to_date` (its key against its
record; a stale unit's outputs moved aside) -> the stage's own function (``pretrain``,
``finetune``, ``retrieve``, :func:`~.cam.measure_actor_mass`) with the step's configuration.

Jobs. The units of one stage never read each other's outputs (a finetuning run reads its
encoder, made by the stage before). With ``jobs > 1`` the units of a stage that must be made run
that many at a time, each in a process of its own (spawned, so a notebook's kernel is safe) with
``cpu_count // jobs`` threads (a unit alone in its stage runs in this process, with as many);
the next stage starts when the last unit of this one has finished.
On 2 CPU cores two one-thread runs do about 1.5 times the work of one two-thread run (small 3D
convolutions scale poorly over threads). What a unit computes depends on its thread count
(summation order, which training can amplify to points), so each unit gets ``cpu_count // jobs``
threads however many others run beside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch

from .. import distributed as D
from ..data.synth import generate, load_manifest
from ..finetune import FinetuneConfig, evaluate_run, finetune
from ..pretrain import PretrainConfig, pretrain
from ..retrieve import retrieve
from ..train.rundir import to_jsonable
from ..utils import usable_cpus
from .cam import measure_actor_mass
from .config import CompareConfig
from .plan import STAGES, Step, data_source, run_step, steps
from .reference import DATA_RECORD
from .staleness import Unit, differences, legacy_differences, move_aside, write_record

__all__ = ["run_comparison", "bring_up_to_date", "retire_if_changed", "ensure_data", "data_identity"]


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


def _claim(step: Step) -> bool:
    """Whether ``step`` must be made: its unit is reused when complete and current; otherwise
    what it left with other settings or inputs is moved aside and its key recorded (before the
    work starts: an interrupted unit continues under it)."""
    unit = _unit(step)
    changes = _stale(step, unit)
    if changes:
        _retire(step, changes)
    if step.done.exists():
        if differences(unit) is None:
            write_record(unit)  # made before records existed, and current: adopted once
        return False
    write_record(unit)
    return True


def bring_up_to_date(step: Step, *, progress: bool = False) -> bool:
    """Reuse the unit of ``step`` when it is complete and current; otherwise move aside what
    it left with other settings or inputs, record its key and make it, in this process.
    Returns whether it ran."""
    if not _claim(step):
        return False
    _log(step.label)
    _EXECUTE[step.stage](step.config, progress)
    return True


def _quiet(config: Any) -> Any:
    """``config`` with its training progress off (units running side by side share a terminal;
    the parent reports each start and end)."""
    loop = getattr(config, "loop", None)
    return dataclasses.replace(config, loop=dataclasses.replace(loop, progress="off")) if loop is not None else config


def _execute_in_child(stage: str, config: Any, threads: int) -> float:
    """Make one unit in a pool process with ``threads`` intra-op threads; returns its seconds."""
    torch.set_num_threads(threads)
    start = time.monotonic()
    _EXECUTE[stage](_quiet(config), False)
    return time.monotonic() - start


def _make_side_by_side(pool: ProcessPoolExecutor, todo: list[Step], jobs: int, threads: int) -> None:
    """Make the units ``todo`` (one stage, already claimed) ``jobs`` at a time in ``pool``'s
    processes. The first failure cancels the units not started, waits for the running ones and
    is raised, naming its unit."""
    _log(f"{len(todo)} units, {jobs} at a time ({threads} thread{'s' if threads > 1 else ''} each)")
    running: dict[Future, Step] = {}
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                step = queue.pop(0)
                _log(step.label)
                running[pool.submit(_execute_in_child, step.stage, step.config, threads)] = step
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                step = running.pop(future)
                error = future.exception()
                if error is not None:
                    raise RuntimeError(f"{step.label} failed: {error}") from error
                _log(f"done: {step.label} ({future.result():.0f} s)")
    except BaseException:
        queue.clear()
        for future in running:
            future.cancel()
        raise


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
    from another preset, or with other ``synth`` fields); real data is used as it is."""
    out = data_source(cfg, condition)
    if cfg.synthetic:
        generate(out, cfg.synth_config(condition), progress=progress)
    return out


def data_identity(sources: Mapping[str, Path]) -> dict[str, str]:
    """Which data each condition ran on, where a manifest says it (``synth v5 93bfbd18…``: the
    embedded benchmark's version and content hash); real data's lists are left out. Recorded so
    that a reproduction check can name another benchmark as the cause of a drift."""
    out = {}
    for condition, source in sources.items():
        manifest = load_manifest(source) if Path(source).is_dir() else None
        if manifest is not None:
            out[condition] = f"{manifest.get('dataset')} v{manifest.get('version')} {manifest.get('hash')}"
    return out


def run_comparison(cfg: CompareConfig, stages: tuple[str, ...] = STAGES, progress: bool = False) -> Path:
    """Run (or reuse) every unit of the given ``stages``; writes ``out_dir/compare_config.json``
    and returns ``out_dir``."""
    plan = steps(cfg, stages)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare_config.json").write_text(json.dumps(to_jsonable(cfg), indent=2) + "\n")
    sources = {condition: ensure_data(cfg, condition, progress=progress) for condition in cfg.conditions}
    (out / DATA_RECORD).write_text(json.dumps(data_identity(sources), indent=2) + "\n")
    jobs = cfg.jobs if D.world_size() == 1 else 1  # under torchrun, the processes are the ranks
    threads = max(1, usable_cpus() // jobs)
    with contextlib.ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None  # started when a stage first has units to share out
        for group in _stage_groups(plan):
            if jobs == 1:
                for step in group:
                    bring_up_to_date(step, progress=progress)
                continue
            todo = [step for step in group if _claim(step)]
            if len(todo) == 1:  # here, with the thread count it would have had beside another unit
                _log(todo[0].label)
                with _torch_threads(threads):
                    _EXECUTE[todo[0].stage](todo[0].config, progress)
            elif todo:
                if pool is None:
                    ctx = multiprocessing.get_context("spawn")  # safe in a notebook's kernel
                    pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs, mp_context=ctx))
                _make_side_by_side(pool, todo, jobs, threads)
    return out


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` for the block. A unit's numbers depend on its thread
    count (summation order, amplified by training: a pretraining alone in its stage, made with 2
    threads instead of the 1 it gets beside another, ended 1.5 points lower on the motion probe),
    so a unit left alone in its stage (one made again, a resumed build) runs as it would have."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _stage_groups(plan: list[Step]) -> list[list[Step]]:
    """``plan`` cut into runs of consecutive steps of one stage (the units that may run side by
    side: each reads only what earlier stages made)."""
    groups: list[list[Step]] = []
    for step in plan:
        if groups and groups[-1][0].stage == step.stage:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups
