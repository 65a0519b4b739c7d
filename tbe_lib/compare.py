"""The comparison of the paper's tables, rebuilt: Random init / MoCo / BE, same backbone,
same budget, same seeds, on the embedded benchmark (or any data with the same splits).

For every camera setting and seed, each *row* is a model:

==================  ============================================================================
row                 what it is
==================  ============================================================================
``random``          random initialisation (the paper's first row); finetuned on ``train``
``moco``            MoCo pretraining on ``pretrain`` (query and key: same frames, two augmentations)
``be``              BE pretraining, static frame from the clip itself (the paper's, ``intra``)
``be_inter``        BE with the static frame from another video of the batch (ablation)
``sup_biased``      supervised from scratch on the biased ``train`` (the floor). Its finetune
                    numbers are the same run as ``random``'s.
``sup_unbiased``    supervised from scratch on ``train_unbiased`` (the ceiling: what a model
                    that ignores the background can reach on ``test_shift``)
==================  ============================================================================

Columns (tidy, one line per camera x seed x row; ``table.csv``): finetune video-level and
clip-level top-1 on ``test_same`` and ``test_shift``; linear probe (logistic regression on the
frozen features, trained on ``train``), kNN, Recall@{1,5,10,20,50} on both test splits; the
background probe (features -> background id on ``train_unbiased``) with its chance level.
``summary.csv`` holds mean ± std over seeds.

Every unit of work is a run directory under ``out_dir`` that is reused when complete, so the
comparison resumes after an interruption and the book's chapters share its runs:
``{camera}/seed{s}/pretrain_{row}``, ``.../finetune_{row}``, ``.../retrieval_{row}``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CompareConfig", "ROWS", "SSL_ROWS", "run_comparison", "collect_table", "summarise", "synth_dir",
           "pretrain_config", "finetune_config"]

ROWS = ("random", "moco", "be", "be_inter", "sup_biased", "sup_unbiased")
SSL_ROWS = ("moco", "be", "be_inter")
ROW_LABELS = {"random": "Random init", "moco": "MoCo", "be": "BE (intra, paper)", "be_inter": "BE (inter)",
              "sup_biased": "Supervised, biased train (floor)", "sup_unbiased": "Supervised, unbiased train (ceiling)"}


@dataclass
class CompareConfig:
    """The whole experiment. ``conditions`` maps a camera setting to its seeds."""

    out_dir: str = "runs/compare"
    data_dir: str = "data"
    synth_size: str = "default"
    conditions: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"static": (0, 1, 2), "jitter": (0,)})
    rows: tuple[str, ...] = ROWS
    backbone: str = "r3d_tiny"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    frames: int = 8
    stride: int = 1
    size: int = 32
    pretrain_steps: int = 300
    pretrain_batch: int = 64
    pretrain_lr: float = 0.03
    queue_size: int = 1024
    extra_negative: bool = False
    finetune_epochs: int = 8
    finetune_batch: int = 32
    finetune_lr: float = 0.05
    test_clips: int = 2
    workers: int = 2
    device: str = "auto"

    def __post_init__(self) -> None:
        bad = [r for r in self.rows if r not in ROWS]
        if bad:
            raise ValueError(f"unknown rows {bad}; choose from {ROWS}")


def synth_dir(cfg: CompareConfig, camera: str) -> Path:
    """Folder of the embedded benchmark for a camera setting (generated if missing)."""
    return Path(cfg.data_dir) / f"synth-{cfg.synth_size}-{camera}"


def ensure_data(cfg: CompareConfig, camera: str, progress: bool = False) -> Path:
    from .data.synth import config_for, generate

    out = synth_dir(cfg, camera)
    generate(out, config_for(cfg.synth_size, camera=camera), progress=progress)
    return out


def _data(cfg: CompareConfig, source: Path, split: str):
    from .pretrain import DataConfig

    return DataConfig(source=str(source), split=split, frames=cfg.frames, stride=cfg.stride, size=cfg.size,
                      workers=cfg.workers)


def pretrain_config(cfg: CompareConfig, camera: str, seed: int, row: str):
    """The :class:`~tbe_lib.pretrain.PretrainConfig` of one SSL row."""
    from .methods import MethodConfig
    from .pretrain import OptimConfig, PretrainConfig
    from .train import LoopConfig

    method = {"moco": "moco", "be": "be", "be_inter": "be"}[row]
    return PretrainConfig(
        run_dir=str(Path(cfg.out_dir) / camera / f"seed{seed}" / f"pretrain_{row}"), backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs), batch_size=cfg.pretrain_batch, device=cfg.device,
        data=_data(cfg, synth_dir(cfg, camera), "pretrain"),
        method=MethodConfig(method=method, queue_size=cfg.queue_size, extra_negative=cfg.extra_negative,
                            be_source="inter" if row == "be_inter" else "intra"),
        optim=OptimConfig(lr=cfg.pretrain_lr),
        loop=LoopConfig(steps=cfg.pretrain_steps, seed=seed, log_every=10, checkpoint_every=100),
    )


def finetune_config(cfg: CompareConfig, camera: str, seed: int, row: str):
    """The :class:`~tbe_lib.finetune.FinetuneConfig` of one row (``sup_biased`` is ``random``'s run)."""
    from .finetune import FinetuneConfig
    from .pretrain import OptimConfig
    from .train import LoopConfig

    base = Path(cfg.out_dir) / camera / f"seed{seed}"
    run_row = "random" if row == "sup_biased" else row
    init = str(base / f"pretrain_{row}" / "encoder.pt") if row in SSL_ROWS else None
    split = "train_unbiased" if row == "sup_unbiased" else "train"
    return FinetuneConfig(
        run_dir=str(base / f"finetune_{run_row}"), init=init, backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs), epochs=cfg.finetune_epochs, batch_size=cfg.finetune_batch,
        device=cfg.device, data=_data(cfg, synth_dir(cfg, camera), split), test_clips=cfg.test_clips,
        optim=OptimConfig(lr=cfg.finetune_lr), loop=LoopConfig(seed=seed, log_every=10, checkpoint_every=0),
    )


def _units(cfg: CompareConfig) -> Iterator[tuple[str, int, str]]:
    for camera, seeds in cfg.conditions.items():
        for seed in seeds:
            for row in cfg.rows:
                yield camera, seed, row


def _log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_comparison(cfg: CompareConfig, stages: tuple[str, ...] = ("pretrain", "finetune", "retrieve"),
                   progress: bool = False) -> Path:
    """Run (or reuse) every unit of the given stages; returns ``out_dir``."""
    from .finetune import finetune
    from .pretrain import pretrain
    from .retrieve import RetrievalConfig, retrieve

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare_config.json").write_text(json.dumps(_jsonable(cfg), indent=2) + "\n")
    for camera in cfg.conditions:
        ensure_data(cfg, camera, progress)
    units = list(_units(cfg))
    if "pretrain" in stages:
        for camera, seed, row in units:
            if row not in SSL_ROWS:
                continue
            pc = pretrain_config(cfg, camera, seed, row)
            if (Path(pc.run_dir) / "encoder.pt").exists():
                continue
            _log(f"pretrain {row} camera={camera} seed={seed} ({cfg.pretrain_steps} steps)")
            pretrain(pc, resume=True)
    if "finetune" in stages:
        for camera, seed, row in units:
            if row == "sup_biased" and "random" in cfg.rows:
                continue  # the same run as random's
            fc = finetune_config(cfg, camera, seed, row)
            if (Path(fc.run_dir) / "results.json").exists():
                continue
            _log(f"finetune {row} camera={camera} seed={seed} ({cfg.finetune_epochs} epochs)")
            finetune(fc)
    if "retrieve" in stages:
        for camera, seed, row in units:
            base = out / camera / f"seed{seed}"
            rdir = base / f"retrieval_{row}"
            if (rdir / "retrieval.json").exists():
                continue
            if row in SSL_ROWS:
                ckpt = str(base / f"pretrain_{row}" / "encoder.pt")
            elif row == "random":
                ckpt = None
            else:
                ckpt = str(Path(finetune_config(cfg, camera, seed, row).run_dir) / "model.pt")
            _log(f"retrieve {row} camera={camera} seed={seed}")
            retrieve(RetrievalConfig(out_dir=str(rdir), checkpoint=ckpt, backbone=cfg.backbone,
                                     backbone_kwargs=dict(cfg.backbone_kwargs), data=str(synth_dir(cfg, camera)),
                                     frames=cfg.frames, stride=cfg.stride, size=cfg.size, num_clips=cfg.test_clips,
                                     workers=cfg.workers, device=cfg.device, seed=seed), progress=progress)
    return out


def collect_table(cfg: CompareConfig):
    """The tidy table (pandas DataFrame), one line per camera x seed x row; also written to
    ``out_dir/table.csv`` and ``table.json``. Missing units give NaN cells."""
    import math

    import pandas as pd

    recs = []
    for camera, seed, row in _units(cfg):
        base = Path(cfg.out_dir) / camera / f"seed{seed}"
        rec: dict[str, Any] = {"camera": camera, "seed": seed, "row": row, "model": ROW_LABELS[row]}
        ft = Path(finetune_config(cfg, camera, seed, row).run_dir) / "results.json"
        if ft.exists():
            res = json.loads(ft.read_text())["results"]
            for split, r in res.items():
                rec[f"finetune_{split}"] = r["video_top1"]
                rec[f"finetune_clip_{split}"] = r["clip_top1"]
        rt = base / f"retrieval_{row}" / "retrieval.json"
        if rt.exists():
            r = json.loads(rt.read_text())
            for split in r["recall"]:
                rec[f"probe_{split}"] = r["linear_probe"][split]
                rec[f"knn_{split}"] = r["knn"][split]
                for k, v in r["recall"][split].items():
                    rec[f"R@{k}_{split}"] = v
            if "background_probe" in r:
                rec["background_probe"] = r["background_probe"]["accuracy"]
                rec["background_chance"] = r["background_probe"]["chance"]
        recs.append(rec)
    df = pd.DataFrame(recs)
    out = Path(cfg.out_dir)
    df.to_csv(out / "table.csv", index=False)
    (out / "table.json").write_text(json.dumps(
        [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")],
        indent=1) + "\n")
    return df


def summarise(df, columns: list[str] | None = None):
    """Mean and std over seeds per (camera, row), as two DataFrames and a formatted one
    (``"mean ± std"``, std omitted for a single seed)."""
    import pandas as pd

    num = [c for c in df.columns if c not in ("camera", "seed", "row", "model")]
    cols = columns or num
    g = df.groupby(["camera", "row"], sort=False)[cols]
    mean, std, n = g.mean(), g.std(ddof=1), g.size()

    def fmt(m, s, k):
        if pd.isna(m):
            return "–"
        return f"{m:.1f}" if k < 2 or pd.isna(s) else f"{m:.1f} ± {s:.1f}"

    pretty = pd.DataFrame({c: [fmt(mean[c].iloc[i], std[c].iloc[i], n.iloc[i]) for i in range(len(mean))]
                           for c in cols}, index=mean.index)
    pretty.insert(0, "seeds", n.values)
    pretty.insert(0, "model", [ROW_LABELS[r] for _, r in mean.index])
    return mean, std, pretty


def _jsonable(cfg: CompareConfig) -> dict[str, Any]:
    from .train.rundir import to_jsonable

    return to_jsonable(cfg)



def add_cli(subparsers) -> None:
    import argparse

    p = subparsers.add_parser("compare", help="the comparison table: Random / MoCo / BE (+ references), over seeds",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--data-dir", default="data", help="where the embedded benchmark folders are (made if missing)")
    p.add_argument("--size", default="default", choices=["smoke", "default", "larger"])
    p.add_argument("--static-seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--jitter-seeds", type=int, nargs="*", default=[0])
    p.add_argument("--pan-seeds", type=int, nargs="*", default=[])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--backbone", default="r3d_tiny")
    p.add_argument("--pretrain-steps", type=int, default=300)
    p.add_argument("--finetune-epochs", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cli_compare)


def _cli_compare(a) -> int:
    conditions = {cam: tuple(seeds) for cam, seeds in
                  (("static", a.static_seeds), ("jitter", a.jitter_seeds), ("pan", a.pan_seeds)) if seeds}
    cfg = CompareConfig(out_dir=a.out, data_dir=a.data_dir, synth_size=a.size, conditions=conditions,
                        rows=tuple(a.rows), backbone=a.backbone, pretrain_steps=a.pretrain_steps,
                        finetune_epochs=a.finetune_epochs, frames=a.frames, workers=a.workers, device=a.device)
    run_comparison(cfg)
    df = collect_table(cfg)
    _, _, pretty = summarise(df, ["finetune_test_same", "finetune_test_shift", "probe_test_same", "probe_test_shift",
                                  "background_probe", "R@1_test_shift"])
    pretty.to_csv(Path(cfg.out_dir) / "summary.csv")
    print(pretty.to_string())
    print(f"[compare] wrote {Path(cfg.out_dir) / 'table.csv'} and summary.csv")
    return 0
