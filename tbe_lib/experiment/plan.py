"""From a :class:`~tbe_lib.experiment.CompareConfig` to units of work: where each condition's
data is, the configuration of every run, and the list of steps a comparison takes.

This is the only module that reads a ``CompareConfig`` to make the configurations of the
stages (``PretrainConfig``, ``FinetuneConfig``, ``RetrievalConfig``, :class:`~.cam.CamConfig`);
the stages themselves never see it. Every unit lives under ``out_dir``::

    <out_dir>/<condition>/seed<s>/pretrain_<row>/      a pretraining run (a condition listed in
                                                       pretrain_from reads its source's)
                                  finetune_<row>/      a finetuning run (sup_biased: random's);
                                                       evaluation.json: its counterfactual tests
                                  retrieval_<row>/     features, probes, Recall@k
                                  actor_mass.json      the activation maps' measure, every row
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import DataConfig, OptimConfig, same_names
from ..data.listfile import class_names, resolve_list
from ..finetune import FinetuneConfig
from ..methods import MethodConfig
from ..pretrain import PretrainConfig
from ..retrieve import RetrievalConfig
from ..train import LoopConfig
from .cam import CamClips, CamConfig, load_clips
from .config import SSL_ROWS, CompareConfig
from .staleness import RECORD_NAME, evaluation_settings, identity, retrieval_settings, run_settings

__all__ = [
    "STAGES",
    "Step",
    "steps",
    "run_step",
    "data_source",
    "list_for",
    "class_names_for",
    "seed_dir",
    "pretrain_config",
    "encoder_path",
    "finetune_config",
    "evaluation_config",
    "extra_test_lists",
    "retrieval_config",
    "cam_clips",
    "cam_config",
    "cam_inputs",
]

#: The stages of a comparison, in the order they run (each reads what the previous made).
STAGES = ("pretrain", "finetune", "retrieve", "cam")


# ------------------------------------------------------------------------------- places
def data_source(cfg: CompareConfig, condition: str) -> Path:
    """The data of a condition: its ``data_dirs`` entry (``{data_dir}`` replaced by
    ``data_dir``), else the embedded benchmark's folder ``<data_dir>/synth-<synth_size>-<condition>``.
    A benchmark folder, a folder with ``lists/<split>.txt`` or a list template with ``{split}``."""
    if condition in cfg.data_dirs:
        return Path(cfg.data_dirs[condition].replace("{data_dir}", str(Path(cfg.data_dir))))
    return Path(cfg.data_dir) / f"synth-{cfg.synth_size}-{condition}"


def list_for(cfg: CompareConfig, condition: str, split: str) -> Path:
    """The list file of ``split`` for a condition."""
    return resolve_list(data_source(cfg, condition), split)


def class_names_for(cfg: CompareConfig, condition: str) -> list[str] | None:
    """Class names of a condition in label order (from its training list), or ``None``."""
    return class_names(list_for(cfg, condition, cfg.train_split))


def extra_test_lists(cfg: CompareConfig, condition: str) -> dict[str, Path]:
    """The list files of ``extra_tests`` for a condition (``{data_dir}`` and ``{condition}`` filled in)."""
    return {
        name: Path(template.replace("{data_dir}", str(Path(cfg.data_dir))).replace("{condition}", condition))
        for name, template in cfg.extra_tests.items()
    }


def seed_dir(cfg: CompareConfig, condition: str, seed: int) -> Path:
    """``<out_dir>/<condition>/seed<s>``: the units of one condition and seed."""
    return Path(cfg.out_dir) / condition / f"seed{seed}"


# ------------------------------------------------------------------------ configurations
def _data(cfg: CompareConfig, condition: str, split: str, *, finetune: bool = False) -> DataConfig:
    if finetune:
        frames, stride, size = cfg.ft_frames, cfg.ft_stride, cfg.ft_size
    else:
        frames, stride, size = cfg.frames, cfg.stride, cfg.size
    return DataConfig(
        source=str(data_source(cfg, condition)),
        split=split,
        root=cfg.roots.get(condition),
        frames=frames,
        stride=stride,
        size=size,
        resize=cfg.resize,
        workers=cfg.workers,
        flip=cfg.flip,
        crop_scale=cfg.crop_scale,
    )


def pretrain_config(cfg: CompareConfig, condition: str, seed: int, row: str) -> PretrainConfig:
    """The pretraining run of one SSL row (for a condition listed in ``pretrain_from``: the run
    of the condition it reuses)."""
    condition = cfg.pretrain_from.get(condition, condition)
    _, method, overrides = SSL_ROWS[row]
    return PretrainConfig(
        run_dir=str(seed_dir(cfg, condition, seed) / f"pretrain_{row}"),
        backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs),
        batch_size=cfg.pretrain_batch,
        device=cfg.device,
        data=_data(cfg, condition, cfg.pretrain_split),
        method=MethodConfig(
            **{"method": method, "queue_size": cfg.queue_size, "extra_negative": cfg.extra_negative, **overrides}
        ),
        optim=OptimConfig(lr=cfg.pretrain_lr),
        loop=LoopConfig(steps=cfg.pretrain_steps, seed=seed, log_every=10, checkpoint_every=100),
    )


def encoder_path(cfg: CompareConfig, condition: str, seed: int, row: str) -> Path:
    """The pretrained encoder an SSL row of a condition starts from."""
    return Path(pretrain_config(cfg, condition, seed, row).run_dir) / "encoder.pt"


def finetune_config(cfg: CompareConfig, condition: str, seed: int, row: str) -> FinetuneConfig:
    """The finetuning run of one row (``sup_biased`` is ``random``'s run; ``sup_unbiased``
    trains on ``unbiased_split``)."""
    run_row = "random" if row == "sup_biased" else row
    init = str(encoder_path(cfg, condition, seed, row)) if row in SSL_ROWS else None
    split = cfg.unbiased_split if row == "sup_unbiased" else cfg.train_split
    return FinetuneConfig(
        run_dir=str(seed_dir(cfg, condition, seed) / f"finetune_{run_row}"),
        init=init,
        backbone=cfg.backbone,
        backbone_kwargs=dict(cfg.backbone_kwargs),
        epochs=cfg.finetune_epochs,
        batch_size=cfg.finetune_batch,
        device=cfg.device,
        data=_data(cfg, condition, split, finetune=True),
        test_clips=cfg.test_clips,
        test_splits=tuple(cfg.test_splits),
        eval_resize=cfg.resize,
        dropout=cfg.finetune_dropout,
        warmup_epochs=cfg.finetune_warmup_epochs,
        optim=OptimConfig(name=cfg.finetune_optimizer, lr=cfg.finetune_lr, weight_decay=cfg.finetune_weight_decay),
        loop=LoopConfig(seed=seed, log_every=10, checkpoint_every=0),
    )


def evaluation_config(cfg: CompareConfig, condition: str, seed: int, row: str) -> FinetuneConfig:
    """The counterfactual tests of one row's finished finetuning run (``scufo_splits``,
    ``extra_tests``, ``contrastive_pairs``): its :func:`finetune_config` with them, which
    :func:`tbe_lib.finetune.evaluate_run` scores on the run's ``model.pt`` without training."""
    return dataclasses.replace(
        finetune_config(cfg, condition, seed, row),
        scufo_splits=tuple(cfg.scufo_splits),
        extra_tests={n: str(p) for n, p in extra_test_lists(cfg, condition).items()},
        contrastive_pairs=dict(cfg.contrastive_pairs),
    )


def retrieval_config(cfg: CompareConfig, condition: str, seed: int, row: str) -> RetrievalConfig:
    """The retrieval of one row: the pretrained encoder (SSL rows), a random network
    (``random``) or the finetuned classifier (the supervised rows), on the pretraining clips.
    The t-SNE picture is made for the first condition's first seed only (the book shows it)."""
    if row in SSL_ROWS:
        checkpoint: str | None = str(encoder_path(cfg, condition, seed, row))
    elif row == "random":
        checkpoint = None
    else:
        checkpoint = str(Path(finetune_config(cfg, condition, seed, row).run_dir) / "model.pt")
    first = next(iter(cfg.conditions))
    return RetrievalConfig(
        out_dir=str(seed_dir(cfg, condition, seed) / f"retrieval_{row}"),
        checkpoint=checkpoint,
        backbone_kwargs=dict(cfg.backbone_kwargs),
        data=str(data_source(cfg, condition)),
        root=cfg.roots.get(condition),
        gallery_split=cfg.train_split,
        query_splits=tuple(cfg.test_splits),
        num_clips=cfg.test_clips,
        seed=seed,
        embedding="tsne" if (condition, seed) == (first, cfg.conditions[first][0]) else None,
        scufo_splits=tuple(cfg.scufo_splits),
        extra_tests={n: str(p) for n, p in extra_test_lists(cfg, condition).items()},
        contrastive_pairs=dict(cfg.contrastive_pairs),
        **same_names(cfg, "backbone background_split motion_split frames stride size workers device"),
    )


def cam_clips(cfg: CompareConfig, condition: str, split: str | None = None, n: int | None = None) -> CamClips:
    """The first ``n`` (default ``cam_videos``) videos of ``split`` (default ``cam_split``) of
    a condition, cut as the finetuned classifiers see them; actor masks on the benchmark."""
    return CamClips(
        data=str(data_source(cfg, condition)),
        split=split or cfg.cam_split,
        n_videos=n or cfg.cam_videos,
        frames=cfg.ft_frames,
        stride=cfg.ft_stride,
        size=cfg.ft_size,
        resize=cfg.resize,
        root=cfg.roots.get(condition),
        masks=cfg.synthetic,
    )


def cam_inputs(cfg: CompareConfig, condition: str, split: str | None = None, n: int | None = None):
    """:func:`~.cam.load_clips` of :func:`cam_clips`: clips uint8 (N, 3, T, S, S), labels (N,),
    actor masks bool (N, T, S, S) on the benchmark (``None`` on real data)."""
    return load_clips(cam_clips(cfg, condition, split, n))


def cam_config(cfg: CompareConfig, condition: str, seed: int) -> CamConfig:
    """The activation maps of every row's finetuned classifier for a condition and seed."""
    models = {r: str(Path(finetune_config(cfg, condition, seed, r).run_dir) / "model.pt") for r in cfg.rows}
    return CamConfig(
        out=str(seed_dir(cfg, condition, seed) / "actor_mass.json"), clips=cam_clips(cfg, condition), models=models
    )


# --------------------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Step:
    """One unit of work of a comparison, ready to run: ``config`` is what its stage's function
    takes; its identity is ``settings`` and the content of ``input_files`` (digested when the
    step is reached, once the steps before it made them), recorded at ``record``; ``outputs``
    are moved aside when it is stale; it is complete when ``done`` exists."""

    stage: str
    label: str
    config: Any
    record: Path
    outputs: tuple[Path, ...]
    done: Path
    settings: Mapping[str, Any]
    input_files: Mapping[str, str | None] = field(default_factory=dict)


def run_step(config: PretrainConfig | FinetuneConfig, label: str | None = None) -> Step:
    """The step of one training run: complete when it wrote its encoder (pretraining) or its
    results (finetuning); a finetuning run's input is the encoder it starts from."""
    run = Path(config.run_dir)
    if isinstance(config, FinetuneConfig):
        return Step(
            "finetune",
            label or f"finetune {run}",
            config,
            run / RECORD_NAME,
            (run,),
            run / "results.json",
            run_settings(config),
            {"init": config.init},
        )
    return Step(
        "pretrain",
        label or f"pretrain {run}",
        config,
        run / RECORD_NAME,
        (run,),
        run / "encoder.pt",
        run_settings(config),
    )


def _retrieval_step(cfg: CompareConfig, condition: str, seed: int, row: str) -> Step:
    rc = retrieval_config(cfg, condition, seed, row)
    out = Path(rc.out_dir)
    return Step(
        "retrieve",
        f"retrieve {row} condition={condition} seed={seed}",
        rc,
        out / RECORD_NAME,
        (out,),
        out / "retrieval.json",
        retrieval_settings(rc),
        {"checkpoint": rc.checkpoint, **{f"extra_test {n}": p for n, p in rc.extra_tests.items()}},
    )


def _evaluation_step(cfg: CompareConfig, condition: str, seed: int, row: str) -> Step:
    """The counterfactual tests of a finished finetuning run: a unit of its own (settings: the
    tests and the clips; inputs: the model and the extra lists), so that adding a test scores the
    saved model again and never retrains it."""
    ec = evaluation_config(cfg, condition, seed, row)
    run = Path(ec.run_dir)
    return Step(
        "evaluate",
        f"counterfactual tests {row} condition={condition} seed={seed}",
        ec,
        run / "evaluation.unit.json",
        (run / "evaluation.json",),
        run / "evaluation.json",
        evaluation_settings(ec),
        {"model": str(run / "model.pt"), **{f"extra_test {n}": p for n, p in ec.extra_tests.items()}},
    )


def _cam_step(cfg: CompareConfig, condition: str, seed: int) -> Step:
    cc = cam_config(cfg, condition, seed)
    out = Path(cc.out)
    settings = identity(cc, ignore=frozenset({"out", "models"}), paths=frozenset({"clips.data", "clips.root"}))
    return Step(
        "cam",
        f"activation maps {list(cc.models)} condition={condition} seed={seed}",
        cc,
        out.with_name("actor_mass.unit.json"),
        (out,),
        out,
        settings,
        dict(cc.models),
    )


def steps(cfg: CompareConfig, stages: tuple[str, ...] = STAGES) -> list[Step]:
    """The steps of the given ``stages``, in the order they must run: every pretraining run
    (once, also when several conditions read it), every finetuning run (``sup_biased`` shares
    ``random``'s) and then its counterfactual tests (when there are any), every retrieval, then the activation maps of each condition and seed (on the
    embedded benchmark: they need its actor masks)."""
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stages {unknown}; choose from {STAGES}")
    units = [(c, s, r) for c, seeds in cfg.conditions.items() for s in seeds for r in cfg.rows]
    out: list[Step] = []
    if "pretrain" in stages:
        seen: set[str] = set()
        for c, s, r in units:
            pc = pretrain_config(cfg, c, s, r) if r in SSL_ROWS else None
            if pc is not None and pc.run_dir not in seen:
                seen.add(pc.run_dir)
                label = f"pretrain {r} condition={cfg.pretrain_from.get(c, c)} seed={s} ({cfg.pretrain_steps} steps)"
                out.append(run_step(pc, label))
    if "finetune" in stages:
        trained = [(c, s, r) for c, s, r in units if not (r == "sup_biased" and "random" in cfg.rows)]
        out += [
            run_step(
                finetune_config(cfg, c, s, r), f"finetune {r} condition={c} seed={s} ({cfg.finetune_epochs} epochs)"
            )
            for c, s, r in trained
        ]
        if cfg.scufo_splits or cfg.extra_tests:  # then each run's counterfactual tests
            out += [_evaluation_step(cfg, c, s, r) for c, s, r in trained]
    if "retrieve" in stages:
        out += [_retrieval_step(cfg, c, s, r) for c, s, r in units]
    if "cam" in stages and cfg.synthetic:
        out += [_cam_step(cfg, c, s) for c, seeds in cfg.conditions.items() for s in seeds]
    return out
