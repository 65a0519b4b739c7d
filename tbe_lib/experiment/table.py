"""The comparison's table: one line per condition x seed x row from the units' results, and
its summary over seeds."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .config import ROW_LABELS, CompareConfig
from .plan import finetune_config, retrieval_config, seed_dir

__all__ = ["collect_table", "summarise", "ID_COLUMNS"]

#: The columns that name a line of the table (the others are measures).
ID_COLUMNS = ("condition", "seed", "row", "model")


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _measures(cfg: CompareConfig, condition: str, seed: int, row: str) -> dict[str, Any]:
    """The numbers of one line: finetuning (video- and clip-level top-1 per test split),
    retrieval (linear probe, kNN, Recall@k per query split, background probe) and activation
    maps (actor mass in %, its ratio to the actor's area)."""
    rec: dict[str, Any] = {}
    ft = _read(Path(finetune_config(cfg, condition, seed, row).run_dir) / "results.json")
    for split, r in (ft or {}).get("results", {}).items():
        rec[f"finetune_{split}"] = r["video_top1"]
        rec[f"finetune_clip_{split}"] = r["clip_top1"]
    rt = _read(Path(retrieval_config(cfg, condition, seed, row).out_dir) / "retrieval.json")
    if rt is not None:
        for split in rt["recall"]:
            rec[f"probe_{split}"] = rt["linear_probe"][split]
            rec[f"knn_{split}"] = rt["knn"][split]
            for k, v in rt["recall"][split].items():
                rec[f"R@{k}_{split}"] = v
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


def summarise(df: pd.DataFrame, columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Mean and std over seeds per (condition, row), as two DataFrames and a formatted one
    (``"mean ± std"``, std omitted for a single seed)."""
    cols = columns or [c for c in df.columns if c not in ID_COLUMNS]
    g = df.groupby(["condition", "row"], sort=False)[cols]
    mean, std, n = g.mean(), g.std(ddof=1), g.size()

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
