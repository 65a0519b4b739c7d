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
background probe (features -> background id on ``train_unbiased``) with its chance level;
and, from Grad-CAM of the finetuned classifiers on ``test_shift`` (stage ``cam``), the share
of activation mass on the actor divided by the actor's share of the frame
(``actor_mass_ratio``: 1 = no preference for the actor, higher = looks at the actor).
``summary.csv`` holds mean ± std over seeds.

Real datasets. The same comparison runs on list files (UCF101, HMDB51, Diving48...) with
``synthetic=False``: ``data_dirs`` maps each condition (a dataset) to a folder holding
``lists/<split>.txt`` or to a list *template* with ``{split}`` (e.g.
``data_lists/ucf101/ucf101_video_{split}_split1.txt``, the names ``tbe data lists`` writes),
``roots`` optionally overrides the lists' data roots, the splits are parameters
(``pretrain_split``, ``train_split``, ``test_splits``), and the rows that need the benchmark's
ground truth (``sup_unbiased``, the background probe, the actor-mass stage) are left out, as
is ``sup_biased`` (on real data, supervised from scratch is the ``random`` row itself).
``pretrain_from`` lets a dataset reuse another's pretraining (the paper finetunes on HMDB51 the
encoder pretrained on UCF101). Pretraining and finetuning may cut clips differently
(``finetune_frames`` / ``finetune_stride`` / ``finetune_size``; the paper pretrains on 16
frames with stride 4 and finetunes on 64 consecutive frames, both at 224 after resizing the
short side to ``resize`` = 256); retrieval uses the pretraining clips.

Every unit of work is a run directory under ``out_dir`` that is reused when complete and made
with the same settings (a run made with others is moved aside to ``<run>.stale-<time>`` and
made again, and so is whatever was computed from it), so the comparison resumes after an
interruption and the book's chapters share its runs:
``{camera}/seed{s}/pretrain_{row}``, ``.../finetune_{row}``, ``.../retrieval_{row}`` (a condition that
reuses another's pretraining reads that condition's ``pretrain_{row}``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .methods import ROW_SPECS

__all__ = ["CompareConfig", "ROWS", "SSL_ROWS", "ROW_LABELS", "all_rows", "run_comparison", "collect_table", "summarise", "synth_dir",
           "list_for", "class_names_for", "pretrain_config", "encoder_path", "finetune_config", "cam_inputs",
           "config_changes", "retire_if_changed"]

#: Pretraining rows, read live from the method registry (tbe_lib/methods): every registered
#: method and its variants, in registration order (row -> (label, method, MethodConfig overrides)).
SSL_ROWS: Mapping[str, tuple[str, str, Mapping[str, Any]]] = ROW_SPECS
#: The rows of the paper's table that a comparison runs by default (the book's).
ROWS = ("random", "moco", "be", "be_inter", "sup_biased", "sup_unbiased")
_REFERENCE_LABELS = {"random": "Random init", "sup_biased": "Supervised, biased train (floor)",
                     "sup_unbiased": "Supervised, unbiased train (ceiling)"}


def all_rows() -> tuple[str, ...]:
    """Every row a comparison can have: random init, each pretraining row, the two references."""
    return ("random", *ROW_SPECS, "sup_biased", "sup_unbiased")


class _RowLabels(Mapping[str, str]):
    """Row -> label in tables: the references' and, live, the registered methods'."""

    def __getitem__(self, row: str) -> str:
        return _REFERENCE_LABELS[row] if row in _REFERENCE_LABELS else ROW_SPECS[row][0]

    def __iter__(self) -> Iterator[str]:
        return iter(all_rows())

    def __len__(self) -> int:
        return len(all_rows())


ROW_LABELS: Mapping[str, str] = _RowLabels()


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
    resize: int | None = None  # short side before cropping (None: native; the paper: 256 for 224 crops)
    finetune_frames: int | None = None  # None: as pretraining
    finetune_stride: int | None = None
    finetune_size: int | None = None
    pretrain_steps: int = 300
    pretrain_batch: int = 64
    pretrain_lr: float = 0.03
    queue_size: int = 1024
    extra_negative: bool = False
    finetune_epochs: int = 8
    finetune_batch: int = 32
    # Finetuning recipe. The default is the embedded benchmark's: with the paper's SGD (lr 0.05
    # here) and dropout 0.5, a CPU budget of 12 epochs ends before even the unbiased ceiling
    # leaves chance; AdamW with a one-epoch warm-up and no dropout gets it to about 50 %
    # (bench/RESULTS.md, "finetuning recipe"). The paper's: sgd, lr 0.001, wd 1e-8, dropout 0.5.
    finetune_optimizer: str = "adamw"
    finetune_lr: float = 1e-3
    finetune_weight_decay: float = 0.05
    finetune_dropout: float = 0.0
    finetune_warmup_epochs: float = 1.0
    test_clips: int = 2
    # The embedded benchmark's classes are directions (left/right, clockwise/counter-clockwise):
    # a horizontal flip would swap labels, so it is off; crops keep most of the frame.
    flip: bool = False
    crop_scale: tuple[float, float] = (0.6, 1.0)
    cam_videos: int = 64  # test_shift videos whose Grad-CAM maps are measured (stage "cam")
    workers: int = 2
    device: str = "auto"
    data_dirs: dict[str, str] = field(default_factory=dict)  # camera -> folder (or list template), overriding the default
    roots: dict[str, str] = field(default_factory=dict)  # condition -> data root overriding the lists' own
    pretrain_from: dict[str, str] = field(default_factory=dict)  # condition -> condition whose pretraining it reuses
    # Splits (defaults: the embedded benchmark's). For real data set synthetic=False.
    synthetic: bool = True
    pretrain_split: str = "pretrain"
    train_split: str = "train"
    test_splits: tuple[str, ...] = ("test_same", "test_shift")
    unbiased_split: str | None = "train_unbiased"
    background_split: str | None = "train_unbiased"
    cam_split: str = "test_shift"

    def __post_init__(self) -> None:
        bad = [r for r in self.rows if r not in all_rows()]
        if bad:
            raise ValueError(f"unknown rows {bad}; choose from {all_rows()}")
        from .config import OPTIMIZERS

        if self.finetune_optimizer not in OPTIMIZERS:
            raise ValueError(f"finetune_optimizer must be one of {OPTIMIZERS}, got {self.finetune_optimizer!r}")
        if not self.synthetic:
            missing = [c for c in self.conditions if c not in self.data_dirs]
            if missing:
                raise ValueError(f"synthetic=False needs data_dirs for every condition; missing {missing}")
            self.rows = tuple(r for r in self.rows if r not in ("sup_unbiased", "sup_biased"))
            self.unbiased_split = self.background_split = None
        for cond, src in self.pretrain_from.items():
            if cond not in self.conditions or src not in self.conditions:
                raise ValueError(f"pretrain_from: {cond!r} <- {src!r} must both be conditions ({list(self.conditions)})")
            if src in self.pretrain_from:
                raise ValueError(f"pretrain_from: {cond!r} <- {src!r}, which itself reuses {self.pretrain_from[src]!r}; "
                                 "point at the condition that pretrains")
            missing = sorted(set(self.conditions[cond]) - set(self.conditions[src]))
            if missing:
                raise ValueError(f"pretrain_from: {cond!r} has seeds {missing} that {src!r} does not pretrain")

    @property
    def ssl_rows(self) -> tuple[str, ...]:
        """The rows of this comparison that pretrain (in ``rows`` order)."""
        return tuple(r for r in self.rows if r in SSL_ROWS)

    @property
    def ft_frames(self) -> int:
        return self.finetune_frames or self.frames

    @property
    def ft_stride(self) -> int:
        return self.finetune_stride or self.stride

    @property
    def ft_size(self) -> int:
        return self.finetune_size or self.size


def synth_dir(cfg: CompareConfig, camera: str) -> Path:
    """Folder of the embedded benchmark for a camera setting: ``cfg.data_dirs[camera]``, else
    ``data_dir/synth-<size>-<camera>`` (generated by :func:`ensure_data` if missing)."""
    if camera in cfg.data_dirs:
        return Path(cfg.data_dirs[camera])
    return Path(cfg.data_dir) / f"synth-{cfg.synth_size}-{camera}"


def ensure_data(cfg: CompareConfig, camera: str, progress: bool = False) -> Path:
    from .data.synth import config_for, generate

    out = synth_dir(cfg, camera)
    if cfg.synthetic:
        generate(out, config_for(cfg.synth_size, camera=camera), progress=progress)
    return out


def list_for(cfg: CompareConfig, camera: str, split: str) -> Path:
    """The list file of ``split`` for a condition (benchmark folder, list folder or template)."""
    from .data.listfile import resolve_list

    return resolve_list(synth_dir(cfg, camera), split)


def class_names_for(cfg: CompareConfig, camera: str) -> list[str] | None:
    """Class names of a condition in label order (from its training list), or ``None``."""
    from .data.listfile import class_names

    return class_names(list_for(cfg, camera, cfg.train_split))


def _data(cfg: CompareConfig, camera: str, split: str, *, finetune: bool = False):
    from .config import DataConfig

    frames, stride, size = (cfg.ft_frames, cfg.ft_stride, cfg.ft_size) if finetune else (cfg.frames, cfg.stride, cfg.size)
    return DataConfig(source=str(synth_dir(cfg, camera)), split=split, root=cfg.roots.get(camera), frames=frames,
                      stride=stride, size=size, resize=cfg.resize, workers=cfg.workers, flip=cfg.flip,
                      crop_scale=cfg.crop_scale)


def pretrain_config(cfg: CompareConfig, camera: str, seed: int, row: str):
    """The :class:`~tbe_lib.pretrain.PretrainConfig` of one SSL row (for a condition listed in
    ``pretrain_from``: the run of the condition it reuses)."""
    from .methods import MethodConfig
    from .config import OptimConfig
    from .pretrain import PretrainConfig
    from .train import LoopConfig

    camera = cfg.pretrain_from.get(camera, camera)
    _, method, overrides = ROW_SPECS[row]
    return PretrainConfig(
        run_dir=str(Path(cfg.out_dir) / camera / f"seed{seed}" / f"pretrain_{row}"), backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs), batch_size=cfg.pretrain_batch, device=cfg.device,
        data=_data(cfg, camera, cfg.pretrain_split),
        method=MethodConfig(**{"method": method, "queue_size": cfg.queue_size, "extra_negative": cfg.extra_negative,
                                **overrides}),
        optim=OptimConfig(lr=cfg.pretrain_lr),
        loop=LoopConfig(steps=cfg.pretrain_steps, seed=seed, log_every=10, checkpoint_every=100),
    )


def encoder_path(cfg: CompareConfig, camera: str, seed: int, row: str) -> Path:
    """The pretrained encoder an SSL row of a condition starts from."""
    return Path(pretrain_config(cfg, camera, seed, row).run_dir) / "encoder.pt"


def finetune_config(cfg: CompareConfig, camera: str, seed: int, row: str):
    """The :class:`~tbe_lib.finetune.FinetuneConfig` of one row (``sup_biased`` is ``random``'s run)."""
    from .finetune import FinetuneConfig
    from .config import OptimConfig
    from .train import LoopConfig

    base = Path(cfg.out_dir) / camera / f"seed{seed}"
    run_row = "random" if row == "sup_biased" else row
    init = str(encoder_path(cfg, camera, seed, row)) if row in SSL_ROWS else None
    split = cfg.unbiased_split if row == "sup_unbiased" else cfg.train_split
    return FinetuneConfig(
        run_dir=str(base / f"finetune_{run_row}"), init=init, backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs), epochs=cfg.finetune_epochs, batch_size=cfg.finetune_batch,
        device=cfg.device, data=_data(cfg, camera, split, finetune=True), test_clips=cfg.test_clips,
        test_splits=tuple(cfg.test_splits), eval_resize=cfg.resize,
        dropout=cfg.finetune_dropout, warmup_epochs=cfg.finetune_warmup_epochs,
        optim=OptimConfig(name=cfg.finetune_optimizer, lr=cfg.finetune_lr, weight_decay=cfg.finetune_weight_decay),
        loop=LoopConfig(seed=seed, log_every=10, checkpoint_every=0),
    )


def _units(cfg: CompareConfig) -> Iterator[tuple[str, int, str]]:
    for camera, seeds in cfg.conditions.items():
        for seed in seeds:
            for row in cfg.rows:
                yield camera, seed, row


def _log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_comparison(cfg: CompareConfig, stages: tuple[str, ...] = ("pretrain", "finetune", "retrieve", "cam"),
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
            retire_if_changed(pc)  # made (or begun) with other settings: moved aside
            if (Path(pc.run_dir) / "encoder.pt").exists():
                continue  # done (possibly by the condition this one reuses, see pretrain_from)
            source = cfg.pretrain_from.get(camera, camera)
            _log(f"pretrain {row} camera={source} seed={seed} ({cfg.pretrain_steps} steps)")
            pretrain(pc, resume=True)
    if "finetune" in stages:
        for camera, seed, row in units:
            if row == "sup_biased" and "random" in cfg.rows:
                continue  # the same run as random's
            fc = finetune_config(cfg, camera, seed, row)
            stamp = _source_stamp(init=_file_digest(fc.init))  # the encoder it starts from, by content
            retire_if_changed(fc, stamp)
            if (Path(fc.run_dir) / "results.json").exists():
                continue
            _log(f"finetune {row} camera={camera} seed={seed} ({cfg.finetune_epochs} epochs)")
            finetune(fc)
            _write_stamp(Path(fc.run_dir), stamp)
    if "retrieve" in stages:
        first = (next(iter(cfg.conditions)), cfg.conditions[next(iter(cfg.conditions))][0])
        for camera, seed, row in units:
            base = out / camera / f"seed{seed}"
            rdir = base / f"retrieval_{row}"
            if row in SSL_ROWS:
                ckpt = str(encoder_path(cfg, camera, seed, row))
            elif row == "random":
                ckpt = None
            else:
                ckpt = str(Path(finetune_config(cfg, camera, seed, row).run_dir) / "model.pt")
            rc = RetrievalConfig(out_dir=str(rdir), checkpoint=ckpt, backbone=cfg.backbone,
                                 backbone_kwargs=dict(cfg.backbone_kwargs), data=str(synth_dir(cfg, camera)),
                                 root=cfg.roots.get(camera),
                                 gallery_split=cfg.train_split, query_splits=tuple(cfg.test_splits),
                                 background_split=cfg.background_split,
                                 frames=cfg.frames, stride=cfg.stride, size=cfg.size, num_clips=cfg.test_clips,
                                 workers=cfg.workers, device=cfg.device, seed=seed,
                                 # the t-SNE picture only for the first condition (the book shows it)
                                 embedding="tsne" if (camera, seed) == first else None)
            stamp = _retrieval_stamp(rc)
            if (rdir / "retrieval.json").exists() and not _stamp_differs(rdir, stamp):
                continue
            _log(f"retrieve {row} camera={camera} seed={seed}")
            retrieve(rc, progress=progress)
            _write_stamp(rdir, stamp)
    if "cam" in stages and cfg.synthetic:  # the actor's ground truth exists on the benchmark only
        for camera, seeds in cfg.conditions.items():
            for seed in seeds:
                actor_mass_stage(cfg, camera, seed)
    return out


def cam_inputs(cfg: CompareConfig, camera: str, split: str | None = None, n: int | None = None):
    """The first ``n`` videos of ``split`` as the finetuned classifiers see them at test time:
    centre clips of the finetuning length, resized and centre-cropped to the finetuning size,
    uint8 (N, 3, T, S, S); their labels; and, on the embedded benchmark, the actor masks of the
    same frames, bool (N, T, S, S) (``None`` on real data)."""
    import numpy as np
    import torch

    from .augment.video import VideoEval
    from .data.dataset import ClipDataset, ClipSampler, collate_clips
    from .data.sampling import center_clip

    split = split or cfg.cam_split
    ds = ClipDataset(list_for(cfg, camera, split), ClipSampler(frames=cfg.ft_frames, stride=cfg.ft_stride, mode="center"),
                     root=cfg.roots.get(camera))
    n = min(n or cfg.cam_videos, len(ds))
    items = [ds[i] for i in range(n)]
    batch = collate_clips(items)  # clips (N, 3, T, H, W) uint8, padded when the videos' sizes differ
    clips, labels = batch.clips, batch.labels
    size = cfg.ft_size
    if not bool((batch.sizes == size).all()):  # the test-time geometry, without normalising
        clips = VideoEval(size, resize=cfg.resize).crop(clips, batch.sizes).contiguous()
    if not cfg.synthetic:
        return clips, labels, None
    from .data.synth import load_masks, load_metadata

    src = synth_dir(cfg, camera)
    meta = load_metadata(src)
    index_of = dict(zip(meta.path[meta.split == split], meta["index"][meta.split == split]))
    all_masks = load_masks(src, split)  # (N_split, T_video, H, W)
    if tuple(all_masks.shape[-2:]) != (size, size):
        raise ValueError(f"actor masks are {tuple(all_masks.shape[-2:])} but the classifiers see {size}x{size} crops; "
                         "measure the benchmark at its own size (finetune_size = the videos' size)")
    rows = [int(index_of[ds.videos.records[it.index].path]) for it in items]
    t = center_clip(all_masks.shape[1], cfg.ft_frames, cfg.ft_stride)
    masks = torch.from_numpy(np.ascontiguousarray(all_masks[rows][:, t]))
    return clips, labels, masks


def actor_mass_stage(cfg: CompareConfig, camera: str, seed: int) -> Path:
    """Grad-CAM (predicted class) of every row's finetuned classifier on the first
    ``cam_videos`` videos of ``test_shift``; writes ``<camera>/seed<s>/actor_mass.json`` with
    the mean actor mass, area share and their ratio per row. Reused when complete."""
    from .augment.video import VideoEval
    from .models import model_from_checkpoint
    from .viz.cam import actor_area_share, actor_mass, compute_cam, set_cam_layer

    out = Path(cfg.out_dir) / camera / f"seed{seed}" / "actor_mass.json"
    done = json.loads(out.read_text()) if out.exists() else {"rows": {}}
    models = {r: Path(finetune_config(cfg, camera, seed, r).run_dir) / "model.pt" for r in cfg.rows}
    # a row is redone when its classifier was trained again after its maps were measured
    digests = {r: _file_digest(p) for r, p in models.items()}
    todo = [r for r in cfg.rows if digests[r] is None or done["rows"].get(r, {}).get("model_sha256") != digests[r]]
    if not todo:
        return out
    _log(f"activation maps {todo} camera={camera} seed={seed}")
    clips, labels, masks = cam_inputs(cfg, camera, cfg.cam_split)
    x = VideoEval(cfg.ft_size, resize=cfg.ft_size)(clips)  # cam_inputs already resized and cropped
    for row in todo:
        model = model_from_checkpoint(models[row])
        set_cam_layer(model, x.shape[1:])
        res = compute_cam(model, x, None)
        mass, area = actor_mass(res.maps, masks), actor_area_share(masks)
        done["rows"][row] = {"actor_mass": float(mass.nanmean()), "actor_area": float(area.nanmean()),
                             "actor_mass_ratio": float((mass / area).nanmean()),
                             "pred_acc": float((res.classes.cpu() == labels).float().mean() * 100),
                             "model_sha256": digests[row]}
    done.update(split=cfg.cam_split, n_videos=int(len(labels)),
                method="gradcam, predicted class, deepest stage with >= 4x4 maps (set_cam_layer)")
    out.write_text(json.dumps(done, indent=2) + "\n")
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
        am = base / "actor_mass.json"
        if am.exists() and row in (rows := json.loads(am.read_text())["rows"]):
            rec["actor_mass"] = rows[row]["actor_mass"] * 100
            rec["actor_mass_ratio"] = rows[row]["actor_mass_ratio"]
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


# Settings that do not change what a run computes: a complete run that differs only in these is
# reused. ``init`` is not compared as a path (which encoder a row starts from follows from the
# run's place in out_dir); the encoder's *content* is checked instead (:func:`_source_stamp`).
_NOT_IDENTITY = {"run_dir", "init", "device", "data.workers", "data.cache", "loop.progress", "loop.log_every",
                 "loop.checkpoint_every"}
# Data paths are compared by their last two components ("data/synth", "ucf101/<list>.txt"),
# so that a project moved or copied to another folder reuses its runs.
_PATH_KEYS = {"data.source", "data.root"}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _short_path(value: Any) -> Any:
    return "/".join(Path(value).parts[-2:]) if isinstance(value, str) else value


def config_changes(cfg: Any) -> list[str]:
    """How ``cfg`` (a Pretrain- or FinetuneConfig) differs from the ``config.json`` its run
    directory already holds, as ``"key: old -> new"`` lines ([] when the same, or when no run is
    there). A key one side lacks counts as its default (older ``config.json`` files lack newer
    fields); settings that do not change the result (device, workers, logging), a finetuning
    run's derived step count and the ``init`` path are not compared, data paths only by their
    last two components."""
    from .train.rundir import to_jsonable

    saved_path = Path(cfg.run_dir) / "config.json"
    if not saved_path.exists():
        return []
    saved = _flat(json.loads(saved_path.read_text()))
    now = _flat(to_jsonable(cfg))
    default = _flat(to_jsonable(type(cfg)()))
    ignore = _NOT_IDENTITY | ({"loop.steps"} if "epochs" in now else set())
    changes = []
    for key in sorted(now.keys() | saved.keys()):
        if key in ignore:
            continue
        old, new = saved.get(key, default.get(key)), now.get(key, default.get(key))
        if key in _PATH_KEYS:
            old, new = _short_path(old), _short_path(new)
        if old != new:
            changes.append(f"{key}: {old!r} -> {new!r}")
    return changes


def _file_digest(path: str | Path | None) -> str | None:
    """SHA-256 (16 hex digits) of a file's content; None when there is no file. Content, not
    modification time: copies and moves keep it."""
    import hashlib

    if path is None or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _source_stamp(**parts: Any) -> dict[str, Any]:
    return json.loads(json.dumps(parts, default=str))


def _stamp_differs(result_dir: Path, stamp: dict[str, Any]) -> list[str]:
    """What differs between ``result_dir/source.json`` (what a result was computed from) and
    ``stamp``; [] when the same, or when there is no ``source.json`` (a result made before
    these files existed is trusted)."""
    f = result_dir / "source.json"
    if not f.exists():
        return []
    saved = json.loads(f.read_text())
    return [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in stamp.items() if saved.get(k) != v]


def _write_stamp(result_dir: Path, stamp: dict[str, Any]) -> None:
    (result_dir / "source.json").write_text(json.dumps(stamp, indent=2) + "\n")


def retire_if_changed(cfg: Any, stamp: dict[str, Any] | None = None) -> bool:
    """A run made with other settings (:func:`config_changes`), or from another encoder than
    ``stamp`` records, is moved aside (``<run>.stale-<time>``, nothing is deleted) so that it
    is made again; returns whether it was. Complete and interrupted runs alike."""
    run = Path(cfg.run_dir)
    if not run.exists():
        return False
    changes = config_changes(cfg) + (_stamp_differs(run, stamp) if stamp is not None else [])
    if not changes:
        return False
    dest = run.with_name(f"{run.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    run.rename(dest)
    _log(f"{run} was made with other settings ({'; '.join(changes[:4])}{' ...' if len(changes) > 4 else ''}): "
         f"moved to {dest.name}, running it again")
    return True


def _retrieval_stamp(rc: Any) -> dict[str, Any]:
    """What a retrieval result depends on: its settings (paths shortened, device and loader
    settings left out) and the content of its checkpoint."""
    from .train.rundir import to_jsonable

    c = to_jsonable(rc)
    for k in ("out_dir", "checkpoint", "workers", "device", "batch_size"):
        c.pop(k, None)
    for k in ("data", "root"):
        c[k] = _short_path(c.get(k))
    return _source_stamp(config=c, checkpoint=_file_digest(rc.checkpoint))


def _jsonable(cfg: CompareConfig) -> dict[str, Any]:
    from .train.rundir import to_jsonable

    return to_jsonable(cfg)



def add_cli(subparsers) -> None:
    import argparse

    p = subparsers.add_parser("compare", help="the comparison table: Random / MoCo / BE (+ references), over seeds",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--data-dir", default="data", help="where the embedded benchmark folders are (made if missing)")
    p.add_argument("--lists", nargs="+", metavar="NAME=DIR", default=None,
                   help="real data instead of the benchmark: conditions NAME whose DIR holds lists/<split>.txt, or a "
                        "list template with {split} (e.g. data_lists/ucf101/ucf101_video_{split}_split1.txt)")
    p.add_argument("--pretrain-from", nargs="+", metavar="NAME=SOURCE", default=[],
                   help="with --lists: condition NAME finetunes the encoders pretrained on condition SOURCE")
    p.add_argument("--pretrain-split", default=None)
    p.add_argument("--train-split", default=None)
    p.add_argument("--test-splits", nargs="+", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of each --lists condition")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--size", dest="crop_size", type=int, default=32, help="crop size (the paper: 112 or 224)")
    p.add_argument("--resize", type=int, default=None, help="short side before cropping (the paper: 256 for 224)")
    p.add_argument("--finetune-frames", type=int, default=None, help="finetuning clip length (default: --frames; the paper: 64)")
    p.add_argument("--finetune-stride", type=int, default=None, help="finetuning stride (default: --stride; the paper: 1)")
    p.add_argument("--finetune-size", type=int, default=None, help="finetuning crop size (default: --size)")
    p.add_argument("--roots", nargs="+", metavar="NAME=DIR", default=[], help="with --lists: videos' root per condition")
    p.add_argument("--queue-size", type=int, default=1024, help="negatives in the queue (the paper: 3569)")
    p.add_argument("--pretrain-lr", type=float, default=0.03)
    p.add_argument("--finetune-optimizer", default="adamw", choices=["sgd", "adamw"],
                   help="finetuning optimiser (default adamw, the benchmark's recipe; the paper: sgd)")
    p.add_argument("--finetune-lr", type=float, default=1e-3, help="(the paper: 0.001 with sgd)")
    p.add_argument("--finetune-weight-decay", type=float, default=0.05, help="(the paper: 1e-8 with sgd)")
    p.add_argument("--finetune-dropout", type=float, default=0.0, help="(the paper: 0.5)")
    p.add_argument("--finetune-warmup-epochs", type=float, default=1.0, help="linear warm-up (the paper: 0)")
    p.add_argument("--pretrain-batch", type=int, default=64)
    p.add_argument("--finetune-batch", type=int, default=32)
    p.add_argument("--synth-size", dest="size", default="default", choices=["smoke", "default", "larger"])
    p.add_argument("--static-seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--jitter-seeds", type=int, nargs="*", default=[0])
    p.add_argument("--pan-seeds", type=int, nargs="*", default=[])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(all_rows()),
                   help="rows of the table (default: the paper's); every registered method is a row")
    p.add_argument("--backbone", default="r3d_tiny")
    p.add_argument("--pretrain-steps", type=int, default=300)
    p.add_argument("--finetune-epochs", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cli_compare)


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict; a value without ``=`` is an error naming the flag."""
    bad = [v for v in values or [] if "=" not in v]
    if bad:
        raise ValueError(f"{flag} takes NAME=VALUE pairs, got {bad}")
    return dict(v.split("=", 1) for v in values or [])


def _cli_compare(a) -> int:
    common = dict(out_dir=a.out, rows=tuple(a.rows), backbone=a.backbone, pretrain_steps=a.pretrain_steps,
                  finetune_epochs=a.finetune_epochs, frames=a.frames, stride=a.stride, size=a.crop_size,
                  pretrain_batch=a.pretrain_batch, finetune_batch=a.finetune_batch, workers=a.workers,
                  device=a.device, resize=a.resize, finetune_frames=a.finetune_frames,
                  finetune_stride=a.finetune_stride, finetune_size=a.finetune_size, queue_size=a.queue_size,
                  pretrain_lr=a.pretrain_lr, finetune_lr=a.finetune_lr, finetune_optimizer=a.finetune_optimizer,
                  finetune_weight_decay=a.finetune_weight_decay, finetune_dropout=a.finetune_dropout,
                  finetune_warmup_epochs=a.finetune_warmup_epochs)
    if a.lists:
        lists = _pairs(a.lists, "--lists")
        splits = {k: v for k, v in (("pretrain_split", a.pretrain_split), ("train_split", a.train_split)) if v}
        cfg = CompareConfig(**common, synthetic=False, conditions={n: tuple(a.seeds) for n in lists},
                            data_dirs=lists, test_splits=tuple(a.test_splits or ["test"]),
                            pretrain_from=_pairs(a.pretrain_from, "--pretrain-from"),
                            roots=_pairs(a.roots, "--roots"), **splits)
    else:
        conditions = {cam: tuple(seeds) for cam, seeds in
                      (("static", a.static_seeds), ("jitter", a.jitter_seeds), ("pan", a.pan_seeds)) if seeds}
        cfg = CompareConfig(**common, data_dir=a.data_dir, synth_size=a.size, conditions=conditions)
    run_comparison(cfg)
    df = collect_table(cfg)
    cols = [c for c in df.columns if c.startswith(("finetune_", "probe_", "R@1_")) or c == "background_probe"]
    _, _, pretty = summarise(df, cols)
    pretty.to_csv(Path(cfg.out_dir) / "summary.csv")
    print(pretty.to_string())
    print(f"[compare] wrote {Path(cfg.out_dir) / 'table.csv'} and summary.csv")
    return 0
