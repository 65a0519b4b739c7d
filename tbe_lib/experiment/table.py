"""The comparison's table: one line per condition x seed x row from the units' results, its
summary over seeds (mean ± std, or mean ± the half-width of a 95 % confidence interval) and the
paired differences of each row against a reference row, seed by seed.

Confidence intervals are Student's t intervals over the seeds (n - 1 degrees of freedom): with
3 seeds the half-width is 4.303 standard errors, so a handful of seeds gives wide intervals, and
two rows whose intervals overlap may still differ consistently seed by seed, which the paired
differences show (each seed's runs share their data, initial weights and clip draws)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

try:  # optional: a table of t quantiles stands in for it (t_quantile)
    from scipy.stats import t as _student_t
except ImportError:  # pragma: no cover - scipy comes with scikit-learn
    _student_t = None

from .config import ROW_LABELS, SSL_ROWS, CompareConfig
from .plan import finetune_config, retrieval_config, seed_dir

__all__ = ["collect_table", "summarise", "ID_COLUMNS", "t_quantile", "mean_ci", "paired_differences"]

#: The columns that name a line of the table (the others are measures).
ID_COLUMNS = ("condition", "seed", "row", "model")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _measures(cfg: CompareConfig, condition: str, seed: int, row: str) -> dict[str, Any]:
    """The numbers of one line: finetuning (video- and clip-level top-1 per test split and extra
    test, ``finetune_scufo_<split>`` on SCUFO twins, ``contrastive_<split>``), retrieval (linear
    probe, kNN, Recall@k per query split and extra test; ``motion_probe_<split>``; on SCUFO twins
    ``probe_scufo_<split>``, ``motion_probe_scufo_<split>``, ``contrastive_probe_<split>``,
    ``contrastive_motion_probe_<split>``; background probe) and activation maps (actor mass in %,
    its ratio to the actor's area)."""
    rec: dict[str, Any] = {}
    run = Path(finetune_config(cfg, condition, seed, row).run_dir)
    for ft in (_read(run / "results.json"), _read(run / "evaluation.json")):  # the tests, then counterfactual ones
        for split, r in (ft or {}).get("results", {}).items():
            rec[f"finetune_{split}"] = r["video_top1"]
            rec[f"finetune_clip_{split}"] = r["clip_top1"]
        for split, v in (ft or {}).get("contrastive", {}).items():
            rec[f"contrastive_{split}"] = v
    rt = _read(Path(retrieval_config(cfg, condition, seed, row).out_dir) / "retrieval.json")
    if rt is not None:
        for split in rt["recall"]:
            rec[f"probe_{split}"] = rt["linear_probe"][split]
            rec[f"knn_{split}"] = rt["knn"][split]
            for k, v in rt["recall"][split].items():
                rec[f"R@{k}_{split}"] = v
        for split, v in rt.get("motion_probe", {}).get("accuracy", {}).items():
            rec[f"motion_probe_{split}"] = v
        for split, r in rt.get("scufo", {}).items():  # probe, contrastive_probe, motion_probe, ...
            for name, v in r.items():
                rec[f"{name}_{split}" if name.startswith("contrastive_") else f"{name}_scufo_{split}"] = v
        for scuba, r in rt.get("contrastive_pairs", {}).items():
            for name, v in r.items():
                if name != "scufo":
                    rec[f"{name}_{scuba}"] = v
        if "background_probe" in rt:
            rec["background_probe"] = rt["background_probe"]["accuracy"]
            rec["background_chance"] = rt["background_probe"]["chance"]
    maps = _read(seed_dir(cfg, condition, seed) / "actor_mass.json")
    if maps is not None and row in maps["rows"]:
        rec["actor_mass"] = maps["rows"][row]["actor_mass"] * 100
        rec["actor_mass_ratio"] = maps["rows"][row]["actor_mass_ratio"]
    return rec


def collect_table(cfg: CompareConfig) -> pd.DataFrame:
    """The tidy table, one line per condition x seed x row (columns :data:`ID_COLUMNS`, then
    the measures); also written to ``out_dir/table.csv`` and ``table.json``. Missing units
    give NaN cells."""
    recs = [
        {"condition": c, "seed": s, "row": r, "model": ROW_LABELS[r], **_measures(cfg, c, s, r)}
        for c, seeds in cfg.conditions.items()
        for s in seeds
        for r in cfg.rows
    ]
    df = pd.DataFrame(recs)
    out = Path(cfg.out_dir)
    df.to_csv(out / "table.csv", index=False)
    records = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]
    (out / "table.json").write_text(json.dumps(records, indent=1) + "\n")
    return df


# Two-sided 95 % quantiles of Student's t, t_{0.975, dof}, for dof = 1..30 (scipy.stats.t.ppf).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(dof: int, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom (the
    factor of the standard error in a confidence interval): scipy's when installed, else, for
    ``level=0.95``, a table for dof <= 30 and the normal 1.960 beyond (within 2 % from dof 30)."""
    if dof < 1:
        raise ValueError(f"a t quantile needs >= 1 degree of freedom (>= 2 seeds), got {dof}")
    if _student_t is not None:
        return float(_student_t.ppf(0.5 + level / 2, dof))
    if level != 0.95:
        raise ValueError(f"level {level}: without scipy only the 95 % interval is tabulated; install scipy")
    return _T975[dof - 1] if dof <= len(_T975) else 1.960


def mean_ci(values: Any, level: float = 0.95) -> tuple[float, float, int]:
    """``(mean, half-width, n)`` of the ``level`` confidence interval of the mean of ``values``
    (NaN left out): mean ± t_{n-1} · std / sqrt(n); the half-width is NaN for fewer than 2 values."""
    x = pd.Series(values, dtype="float64").dropna()
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n < 2:
        return float(x.mean()), math.nan, 1
    return float(x.mean()), t_quantile(n - 1, level) * float(x.std(ddof=1)) / math.sqrt(n), n


def summarise(
    df: pd.DataFrame, columns: list[str] | None = None, *, spread: str = "std"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Mean and spread over seeds per (condition, row), as two DataFrames and a formatted one
    (``"mean ± spread"``, the spread omitted for a single seed). ``spread``: ``"std"`` (the
    sample standard deviation) or ``"ci95"`` (the half-width of the 95 % confidence interval of
    the mean, Student's t with n - 1 degrees of freedom: :func:`mean_ci`)."""
    if spread not in ("std", "ci95"):
        raise ValueError(f"spread must be 'std' or 'ci95', got {spread!r}")
    cols = columns or [c for c in df.columns if c not in ID_COLUMNS]
    g = df.groupby(["condition", "row"], sort=False)[cols]
    mean, std, n = g.mean(), g.std(ddof=1), g.size()
    if spread == "ci95":
        counts = g.count()  # seeds with a value, per column
        factor = counts.map(lambda k: t_quantile(int(k) - 1) if k >= 2 else math.nan)
        std = std * factor / counts.pow(0.5)

    def fmt(m: float, s: float, k: int) -> str:
        if pd.isna(m):
            return "–"
        return f"{m:.1f}" if k < 2 or pd.isna(s) else f"{m:.1f} ± {s:.1f}"

    pretty = pd.DataFrame(
        {c: [fmt(mean[c].iloc[i], std[c].iloc[i], n.iloc[i]) for i in range(len(mean))] for c in cols}, index=mean.index
    )
    pretty.insert(0, "seeds", n.values)
    pretty.insert(0, "model", [ROW_LABELS[r] for _, r in mean.index])
    return mean, std, pretty


def _reference_row(df: pd.DataFrame, reference: str | None) -> str:
    rows = list(dict.fromkeys(df["row"]))
    if reference in rows:
        return reference
    ssl = [r for r in rows if r in SSL_ROWS]
    if not ssl:
        raise ValueError(f"no reference row: {reference!r} is not in the table and no SSL row is ({rows})")
    return ssl[0]


def paired_differences(
    df: pd.DataFrame, reference: str | None = "moco", columns: list[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Each row minus the ``reference`` row, seed by seed, per condition (rows of one seed share
    their data and draws, so the difference cancels what the seed changes). ``reference``:
    ``moco``, else the first pretraining row of the table. Returns one line per (condition,
    row, column) for the rows other than the reference: ``diffs`` (the per-seed differences,
    in seed order), ``seeds``, ``mean``, ``ci_low``, ``ci_high`` (the ``level`` Student's t
    interval of the mean difference; NaN with one seed) and ``n`` (seeds with both values)."""
    ref = _reference_row(df, reference)
    cols = columns or [c for c in df.columns if c not in ID_COLUMNS]
    missing = [c for c in cols if c not in df]
    if missing:
        raise ValueError(
            f"columns {missing} are not in the table; choose from {[c for c in df if c not in ID_COLUMNS]}"
        )
    out = []
    for condition, d in df.groupby("condition", sort=False):
        base = d[d.row == ref].set_index("seed")
        for row in dict.fromkeys(d.row):
            if row == ref:
                continue
            other = d[d.row == row].set_index("seed")
            for col in cols:
                diff = (other[col] - base[col]).dropna().sort_index()
                m, half, n = mean_ci(diff.values, level)
                out.append(
                    {
                        "condition": condition,
                        "row": row,
                        "reference": ref,
                        "column": col,
                        "seeds": [int(s) for s in diff.index],
                        "diffs": [float(v) for v in diff.values],
                        "n": n,
                        "mean": m,
                        "ci_low": m - half,
                        "ci_high": m + half,
                    }
                )
    return pd.DataFrame(
        out, columns=["condition", "row", "reference", "column", "seeds", "diffs", "n", "mean", "ci_low", "ci_high"]
    )
