"""Reproduction you can check: a fresh table against the reference table of its profile.

A *reference* (``bench/results/reference_<profile>.json``) holds the summary of a complete
build (mean, standard deviation and number of seeds of every cell: condition x row x column)
and the environment that made it (:func:`tbe_lib.environment.numerics_environment`).

How bit-exact reproduction behaves: on the same machine and software the pipeline is
deterministic, so a fresh build gives the reference digit for digit. On another processor
(other instruction sets select other kernels, which round differently) or on a GPU, training
amplifies the rounding and cells drift. A cell is *within tolerance* when it moved by at most
``max(min_points, spread x its seed-to-seed standard deviation)``: with ``spread = 2`` that
is about the range two runs with different seeds cover 95 % of the time, so a drift inside it
is indistinguishable from a change of seed. A single-seed cell has no spread of its own and
takes the median spread of its column. Beyond that a cell has *moved*, and a headline cell
that moved fails ``tbe reproduce --check``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Iterable

__all__ = [
    "Cell",
    "CellCheck",
    "ReproductionReport",
    "HEADLINE",
    "summary_csv_cells",
    "DATA_RECORD",
    "build_environment",
    "write_reference",
    "load_reference",
    "check_reproduction",
    "environment_differences",
    "reference_path",
]

#: The columns whose drift beyond tolerance fails ``tbe reproduce --check``.
HEADLINE = (
    "motion probe test_shift", "finetune test_shift", "probe test_shift", "background probe ↓", "finetune test", "probe test"
)  # fmt: skip
MIN_POINTS = 1.0  # percentage points: below this a drift is never called a move
SPREAD = 2.0  # standard deviations of the seed-to-seed spread


@dataclass(frozen=True)
class Cell:
    """One cell of a summary: the mean over ``seeds`` seeds and their standard deviation
    (NaN for one seed)."""

    condition: str
    row: str
    column: str
    mean: float
    std: float
    seeds: int


@dataclass(frozen=True)
class CellCheck:
    """A cell of the reference and of the fresh build, and the verdict: ``identical`` (the same
    to the reported decimal), ``within`` tolerance, ``moved`` beyond it, ``missing`` from the
    fresh build, or ``new`` (not in the reference)."""

    condition: str
    row: str
    column: str
    reference: float
    fresh: float
    tolerance: float
    status: str

    @property
    def delta(self) -> float:
        return self.fresh - self.reference


@dataclass
class ReproductionReport:
    """Every cell's check, and what differs between the environments."""

    cells: list[CellCheck]
    environment: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cells)

    def moved(self, headline_only: bool = False) -> list[CellCheck]:
        return [c for c in self.cells if c.status == "moved" and (not headline_only or c.column in HEADLINE)]

    @property
    def ok(self) -> bool:
        """No headline cell moved beyond its tolerance and none is missing."""
        return not self.moved(headline_only=True) and not any(
            c.status == "missing" and c.column in HEADLINE for c in self.cells
        )

    def sentences(self) -> list[str]:
        """The comparison in words, generated from the cells."""
        n = len([c for c in self.cells if c.status != "new"])
        out = [
            f"Of the reference's {n} cells, {self.count('identical')} are identical to the reported decimal, "
            f"{self.count('within')} moved within their tolerance and {self.count('moved')} moved beyond it"
            + (f"; {self.count('missing')} are missing from this build" if self.count("missing") else "")
            + (f"; {self.count('new')} cells are new" if self.count("new") else "")
            + "."
        ]
        within = sorted((c for c in self.cells if c.status == "within"), key=lambda c: -abs(c.delta))
        if within:
            c = within[0]
            out.append(
                f"The largest drift within tolerance is {c.delta:+.1f} points ({c.row}, {c.column}, "
                f"{c.condition}; tolerance {c.tolerance:.1f})."
            )
        for c in self.moved():
            out.append(
                f"**Moved:** {c.row}, {c.column} ({c.condition}) is {c.fresh:.1f} against {c.reference:.1f} in "
                f"the reference ({c.delta:+.1f} points, tolerance {c.tolerance:.1f})"
                + (", a headline cell." if c.column in HEADLINE else ".")
            )
        if self.environment:
            out.append("The environments differ in: " + "; ".join(self.environment) + ".")
        elif self.count("identical") == n:
            out.append("Same environment, same numbers: the build reproduces the reference digit for digit.")
        else:
            out.append("No difference of environment was recorded that would explain the drift.")
        return out


def summary_csv_cells(path: str | os.PathLike) -> list[Cell]:
    """The cells of a build's ``summary.csv`` (:func:`tbe_lib.experiment.summarise`'s formatted
    table: ``condition, row, model, seeds`` then one ``"mean ± std"`` column per measure)."""
    cells = []
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            condition = rec.get("condition") or rec.get("camera") or ""  # older summaries say "camera"
            seeds = int(rec["seeds"])
            for column, text in rec.items():
                if column in ("condition", "camera", "row", "model", "seeds") or not text or text == "–":
                    continue
                m, _, s = text.partition("±")
                cells.append(Cell(condition, rec["row"], column, float(m), float(s) if s else float("nan"), seeds))
    return cells


#: The file in a comparison's ``out_dir`` naming the benchmark each condition ran on
#: (written by :func:`tbe_lib.experiment.run.run_comparison`, read by :func:`build_environment`).
DATA_RECORD = "data.json"


def build_environment(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The environment a build ran in: the ``environment.json`` of one of its runs ({} if none),
    with ``data``, the benchmark each condition ran on (``out_dir/data.json``, when recorded)."""
    first = next(iter(sorted(Path(out_dir).rglob("environment.json"))), None)
    env = json.loads(first.read_text()) if first is not None else {}
    record = Path(out_dir) / DATA_RECORD
    if env and record.is_file():
        env["data"] = json.loads(record.read_text())
    return env


def write_reference(
    path: str | os.PathLike, profile: str, cells: Iterable[Cell], environment: dict[str, Any], made_by: dict[str, Any]
) -> Path:
    """Write a reference file (JSON: profile, who made it, environment, cells)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"profile": profile, "made_by": made_by, "environment": environment, "cells": [asdict(c) for c in cells]}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str) + "\n")
    return path


def reference_path(profile: str, root: str | os.PathLike = ".") -> Path:
    """Where the reference table of ``profile`` is kept: ``bench/results/reference_<profile>.json``."""
    return Path(root) / "bench" / "results" / f"reference_{profile}.json"


def load_reference(path: str | os.PathLike) -> tuple[list[Cell], dict[str, Any]]:
    """The cells and environment of a reference file."""
    doc = json.loads(Path(path).read_text())
    return [Cell(**c) for c in doc["cells"]], doc.get("environment", {})


def _tolerances(reference: list[Cell]) -> dict[tuple[str, str, str], float]:
    by_column: dict[str, list[float]] = {}
    for c in reference:
        if c.seeds > 1 and not math.isnan(c.std):
            by_column.setdefault(c.column, []).append(c.std)
    tol = {}
    for c in reference:
        spread = c.std if c.seeds > 1 and not math.isnan(c.std) else median(by_column.get(c.column, [0.0]))
        tol[(c.condition, c.row, c.column)] = max(MIN_POINTS, SPREAD * spread)
    return tol


def check_reproduction(
    fresh: list[Cell],
    reference: list[Cell],
    fresh_env: dict[str, Any] | None = None,
    reference_env: dict[str, Any] | None = None,
) -> ReproductionReport:
    """Compare a fresh build's cells with a reference's, cell by cell (see the module docstring)."""
    tol = _tolerances(reference)
    now = {(c.condition, c.row, c.column): c for c in fresh}
    checks = []
    for r in reference:
        key = (r.condition, r.row, r.column)
        f = now.pop(key, None)
        if f is None:
            checks.append(CellCheck(*key, r.mean, float("nan"), tol[key], "missing"))
            continue
        d = abs(f.mean - r.mean)
        status = "identical" if round(f.mean, 1) == round(r.mean, 1) else "within" if d <= tol[key] else "moved"
        checks.append(CellCheck(*key, r.mean, f.mean, tol[key], status))
    checks += [CellCheck(*key, float("nan"), f.mean, float("nan"), "new") for key, f in now.items()]
    env = environment_differences(reference_env or {}, fresh_env or {}) if reference_env and fresh_env else []
    return ReproductionReport(checks, env)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


#: Environment entries that can change numbers (not, e.g., the time a run started).
_NUMERIC_KEYS = (
    "torch",
    "python",
    "numerics.cpu_model",
    "numerics.cpu_isa",
    "numerics.torch_cpu_capability",
    "numerics.parallel_backend",
    "numerics.torch_threads",
    "numerics.libraries",
    "numerics.cuda",
    "numerics.deterministic_algorithms",
    "numerics.float32_matmul_precision",
    "device",
    "device_name",
    "data",
)


def environment_differences(reference: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """``"name: reference -> fresh"`` for each environment entry that can change numbers."""
    a, b = _flat(reference), _flat(fresh)
    out = []
    for key in sorted(a.keys() | b.keys()):
        if not key.startswith(_NUMERIC_KEYS) or a.get(key) == b.get(key):
            continue
        out.append(f"{key.removeprefix('numerics.')}: {a.get(key, '—')} → {b.get(key, '—')}")
    return out


def reproduction_report(out_dir: str | os.PathLike, reference_file: str | os.PathLike) -> ReproductionReport:
    """A finished build (``out_dir/summary.csv`` and its runs' environment) against a reference file."""
    summary = Path(out_dir) / "summary.csv"
    if not summary.is_file():
        raise FileNotFoundError(f"{summary} does not exist: build the book first (its chapter 7 writes the summary)")
    ref_cells, ref_env = load_reference(reference_file)
    return check_reproduction(summary_csv_cells(summary), ref_cells, build_environment(out_dir), ref_env)
