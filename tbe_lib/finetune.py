"""Finetuning and linear probe: ``tbe finetune [--init RUN/encoder.pt] [--freeze]``.

Start from a pretrained encoder (or random initialisation: the paper's first row), attach a
classifier, train on a labelled split with the shared engine, evaluate on the test split(s).

Reported, and named as such:

* **clip-level** top-1/top-5: every test clip scored on its own (the paper's ``ft.py``
  scored one random clip per video; we score ``test_clips`` uniformly spaced clips, which
  estimates the same quantity with less noise);
* **video-level** top-1/top-5: softmax averaged over the ``test_clips`` clips of a video;
* mean per-class accuracy (video-level), the confusion matrix and per-class accuracy.

Counterfactual tests (evaluation only: they never change the training). ``scufo_splits``: test
splits also evaluated on their **SCUFO** twins (StillMix, Li et al. ICCV 2023: each video's middle
frame repeated for the whole clip, scored on that one clip; :func:`~tbe_lib.features.scufo_clips`),
reported as ``results["scufo_<split>"]``, with the **contrastive accuracy** (right on the video,
wrong on its twin) in ``contrastive[<split>]``. ``extra_tests``: more lists (name -> list file,
e.g. SCUBA / SCUFO / HAT lists built from the public sets), reported as ``results[<name>]``;
``contrastive_pairs`` (SCUBA name -> SCUFO name) gives ``contrastive[<SCUBA name>]``, pairing the
two lists row by row (the i-th video of one is the twin of the i-th of the other; labels must
agree). :func:`evaluate_run` evaluates a finished run's ``model.pt`` on them without training
(``evaluation.json``).

Model selection. By default the **final** model is reported (``select="last"``). With
``select="val"`` a validation split (``val_fraction`` of the training videos, held out,
stratified) chooses the epoch. ``select="best_on_test"`` reproduces the paper's protocol
(the maximum over epochs *on the test split*, original-code.md §4.1); it is optimistic and
is named so in every output.

``freeze=True`` is a linear probe: the backbone is frozen (BatchNorm in eval mode) and only
the classifier trains. On a background-biased labelled split, full finetuning can re-learn
the background from any starting point; the probe is the cleaner measure of what
pretraining learned, so the book reports both.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .config import (
    DataConfig,
    OptimConfig,
    add_data_flags,
    add_device_flags,
    add_optim_flags,
    add_stage_parser,
    check_number,
    data_from_args,
    optim_from_args,
    same_names,
)
from .data.listfile import resolve_list
from .train import LoopConfig

__all__ = [
    "FinetuneConfig",
    "FinetuneResult",
    "Classifier",
    "finetune",
    "evaluate_splits",
    "evaluate_counterfactuals",
    "evaluate_run",
    "EVALUATION_FIELDS",
    "add_cli",
]

#: The fields of :class:`FinetuneConfig` that only add evaluations (never change the training).
EVALUATION_FIELDS = ("scufo_splits", "extra_tests", "contrastive_pairs")


class Classifier(nn.Module):
    """A :class:`~tbe_lib.models.VideoModel` with a classifier head; ``frozen`` keeps the
    backbone's weights fixed and its BatchNorm in eval mode whatever ``train()`` says."""

    def __init__(self, model: nn.Module, frozen: bool = False) -> None:
        super().__init__()
        self.model, self.frozen = model, frozen
        if frozen:
            for p in model.backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if self.frozen:
            self.model.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, num_classes) logits


@dataclass
class FinetuneConfig:
    """Configuration of a finetuning / linear-probe run (written to ``RUN/config.json``)."""

    run_dir: str = "runs/finetune"
    init: str | None = None  # encoder.pt of a pretraining run; None: random initialisation
    backbone: str = "r3d_tiny"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    freeze: bool = False
    epochs: int = 10
    batch_size: int = 32
    dropout: float = 0.5
    device: str = "auto"
    data: DataConfig = field(default_factory=lambda: DataConfig(split="train"))
    test_splits: tuple[str, ...] = ("test_same", "test_shift")
    test_clips: int = 4
    eval_resize: int | None = None
    select: Literal["last", "val", "best_on_test"] = "last"
    val_fraction: float = 0.0
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.05, weight_decay=1e-4))
    warmup_epochs: float = 0.0  # linear warm-up in epochs, added to optim.warmup_steps (at most half the run)
    loop: LoopConfig = field(default_factory=LoopConfig)
    # evaluation only (EVALUATION_FIELDS): see the module docstring
    scufo_splits: tuple[str, ...] = ()  # test splits also scored on their SCUFO twins
    extra_tests: dict[str, str] = field(default_factory=dict)  # name -> list file of an extra test set
    contrastive_pairs: dict[str, str] = field(default_factory=dict)  # SCUBA test -> its SCUFO twin (extra_tests)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "test_clips"):
            check_number("finetune", name, getattr(self, name), minimum=1, integer=True)
        check_number("finetune", "dropout", self.dropout, minimum=0, maximum=1)
        check_number("finetune", "warmup_epochs", self.warmup_epochs, minimum=0)
        if self.select not in ("last", "val", "best_on_test"):
            raise ValueError(f"select must be 'last', 'val' or 'best_on_test', got {self.select!r}")
        if self.select == "val" and not 0 < self.val_fraction < 1:
            raise ValueError("select='val' needs a validation split: set val_fraction in (0, 1), e.g. 0.1")
        check_counterfactuals("finetune", self.test_splits, self.scufo_splits, self.extra_tests, self.contrastive_pairs)


def check_counterfactuals(
    stage: str,
    test_splits: tuple[str, ...],
    scufo_splits: tuple[str, ...],
    extra_tests: dict[str, str],
    contrastive_pairs: dict[str, str],
) -> None:
    """``ValueError`` naming ``stage`` when a SCUFO split is not a test split, an extra test's
    name is a test split's or starts with ``scufo_``, or a pair names something not in ``extra_tests``."""
    bad = [s for s in scufo_splits if s not in test_splits]
    if bad:
        raise ValueError(f"{stage}: scufo_splits {bad} are not test splits {list(test_splits)}; choose among them")
    clash = [n for n in extra_tests if n in test_splits or n.startswith("scufo_")]
    if clash:
        raise ValueError(
            f"{stage}: extra test names {clash} clash with a test split or start with 'scufo_'; rename them"
        )
    for scuba, scufo in contrastive_pairs.items():
        missing = [n for n in (scuba, scufo) if n not in extra_tests]
        if missing or scuba == scufo:
            raise ValueError(
                f"{stage}: contrastive pair {scuba!r} -> {scufo!r} must name two different extra tests "
                f"(extra_tests: {list(extra_tests)})"
            )


@dataclass
class FinetuneResult:
    """Run directory, the final (or selected) model and ``results[split]`` reports."""

    run_dir: Path
    model: Classifier
    results: dict[str, dict[str, Any]]


def _split_train_val(list_path: Path, fraction: float, seed: int, out_dir: Path) -> tuple[Path, Path]:
    """Stratified hold-out of ``fraction`` of the videos of each class, written as two lists."""
    from .data.listfile import read_list, write_list

    vl = read_list(list_path)
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in sorted({r.label for r in vl.records}):
        recs = [r for r in vl.records if r.label == c]
        perm = torch.randperm(len(recs), generator=g).tolist()
        n_val = max(1, round(fraction * len(recs)))
        val += [recs[i] for i in perm[:n_val]]
        train += [recs[i] for i in perm[n_val:]]
    meta = {k: v for k, v in vl.meta.items() if k not in ("format", "root", "template")}
    kw = dict(
        format=vl.format,
        root=vl.root.resolve() if vl.root else None,
        template=vl.template if vl.format == "frames" else None,
    )
    return (
        write_list(out_dir / "train_split.txt", train, **kw, **{**meta, "subset": "train"}),
        write_list(out_dir / "val_split.txt", val, **kw, **{**meta, "subset": "val"}),
    )


def evaluate_splits(
    model: nn.Module,
    lists: dict[str, Path],
    cfg: FinetuneConfig,
    device: torch.device,
    out_dir: Path | None = None,
    class_names: list[str] | None = None,
    *,
    scufo: bool = False,
    predictions: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Clip- and video-level results of ``model`` on each list; writes predictions, confusion
    matrices (array + figure) and per-class accuracy under ``out_dir/<split>/``.

    ``scufo``: score each video's SCUFO twin instead (its centre clip with the middle frame
    repeated, one clip per video). ``predictions``: filled with ``name -> (video-level
    predictions (V,), labels (V,))`` in list order."""
    from .evaluate import classification_report, confusion_matrix, per_class_accuracy, plot_confusion
    from .features import clip_logits, scufo_clips

    results: dict[str, dict[str, Any]] = {}
    for split, path in lists.items():
        logits, labels, indices = clip_logits(
            model,
            path,
            frames=cfg.data.frames,
            stride=cfg.data.stride,
            size=cfg.data.size,
            num_clips=1 if scufo else cfg.test_clips,
            batch_size=cfg.batch_size,
            workers=cfg.data.workers,
            device=device,
            root=cfg.data.root,
            resize=cfg.data.resize,
            eval_resize=cfg.eval_resize,
            clip_transform=scufo_clips if scufo else None,
        )
        V, N, C = logits.shape
        flat = logits.reshape(V * N, C)
        vid = torch.arange(V).repeat_interleave(N)
        rep = classification_report(flat, labels.repeat_interleave(N), vid)
        results[split] = {**rep.to_dict(), "num_clips_per_video": N}
        if predictions is not None:
            order = indices.argsort()  # list order
            predictions[split] = (logits.softmax(-1).mean(1).argmax(1)[order], labels[order])
        if out_dir is None:
            continue
        d = out_dir / split
        d.mkdir(parents=True, exist_ok=True)
        probs = logits.softmax(-1).mean(1)  # (V, C) video-level
        pred = probs.argmax(1)
        from .data.listfile import read_list

        paths = [r.path for r in read_list(path, cfg.data.root).records]
        with open(d / "predictions.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "label", "pred", "prob_pred", "prob_label"])
            for i in range(V):
                w.writerow(
                    [
                        paths[int(indices[i])],
                        int(labels[i]),
                        int(pred[i]),
                        f"{float(probs[i, pred[i]]):.4f}",
                        f"{float(probs[i, labels[i]]):.4f}",
                    ]
                )
        cm = confusion_matrix(pred, labels, C)
        import numpy as np

        np.save(d / "confusion.npy", cm.numpy())
        acc = per_class_accuracy(pred, labels, C)
        with open(d / "per_class.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["class", "name", "accuracy", "n"])
            for c in range(C):
                w.writerow([c, class_names[c] if class_names else c, f"{float(acc[c]):.2f}", int((labels == c).sum())])
        fig = plot_confusion(cm, class_names, title=f"{split}: video-level confusion (row-normalised)")
        fig.savefig(d / "confusion.png", dpi=110, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
    return results


def evaluate_counterfactuals(
    model: nn.Module,
    cfg: FinetuneConfig,
    device: torch.device,
    out_dir: Path | None = None,
    class_names: list[str] | None = None,
    predictions: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """The counterfactual tests of ``cfg`` (module docstring): ``(results, contrastive)`` with
    ``results["scufo_<split>"]`` and ``results[<extra test>]`` as :func:`evaluate_splits` reports
    them and ``contrastive[<split or SCUBA name>]`` in %. ``predictions``: the video-level
    predictions of the test splits already scored (those missing are scored again)."""
    from .evaluate import contrastive_accuracy

    preds = dict(predictions or {})
    normal = {s: resolve_list(cfg.data.source, s) for s in cfg.scufo_splits if s not in preds}
    evaluate_splits(model, normal, cfg, device, predictions=preds)
    still: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    scufo = {f"scufo_{s}": resolve_list(cfg.data.source, s) for s in cfg.scufo_splits}
    results = evaluate_splits(model, scufo, cfg, device, out_dir, class_names, scufo=True, predictions=still)
    extra = {name: Path(path) for name, path in cfg.extra_tests.items()}
    results.update(evaluate_splits(model, extra, cfg, device, out_dir, class_names, predictions=preds))
    contrastive = {s: contrastive_accuracy(preds[s][0], still[f"scufo_{s}"][0], preds[s][1]) for s in cfg.scufo_splits}
    for scuba, twin in cfg.contrastive_pairs.items():
        try:
            contrastive[scuba] = contrastive_accuracy(preds[scuba][0], preds[twin][0], preds[scuba][1], preds[twin][1])
        except ValueError as e:
            raise ValueError(f"{cfg.extra_tests[scuba]} / {cfg.extra_tests[twin]}: {e}") from None
    return results, contrastive


def evaluate_run(cfg: FinetuneConfig) -> dict[str, Any]:
    """The counterfactual tests of ``cfg`` on the finished run's ``RUN/model.pt``, without
    training: writes and returns ``RUN/evaluation.json`` (``{"results": ..., "contrastive": ...}``,
    keys as in ``results.json``). Evaluation clips are fixed (uniform, centre): nothing to seed."""
    from .models import model_from_checkpoint
    from .utils import resolve_device

    run = Path(cfg.run_dir)
    if not (run / "model.pt").is_file():
        raise FileNotFoundError(f"{run / 'model.pt'} does not exist: finetune the run first")
    device = resolve_device(cfg.device)
    model = Classifier(model_from_checkpoint(run / "model.pt")).to(device)
    class_names = _class_names(resolve_list(cfg.data.source, cfg.data.split))
    results, contrastive = evaluate_counterfactuals(model, cfg, device, run / "eval", class_names)
    out = {"model": str(run / "model.pt"), "results": results, "contrastive": contrastive}
    tmp = run / ".evaluation.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(run / "evaluation.json")
    return out


def _class_names(list_path: Path) -> list[str] | None:
    from .data.listfile import class_names

    return class_names(list_path)


def finetune(cfg: FinetuneConfig, *, resume: bool = False) -> FinetuneResult:
    """Train a classifier (full finetuning, or a linear probe with ``cfg.freeze``) and
    evaluate it; returns the run directory, the model and the per-split results."""
    from . import distributed as D
    from .data.dataset import ClipSampler
    from .data.listfile import read_list
    from .models import build_model, load_weights
    from .train.setup import build_trainer, start_run, training_augment, training_dataset
    from .utils import atomic_save

    with start_run(run_dir=cfg.run_dir, device=cfg.device, loop=cfg.loop, resume=resume) as ctx:
        device, run = ctx.device, ctx.run
        train_list = resolve_list(cfg.data.source, cfg.data.split)
        test_lists = {s: resolve_list(cfg.data.source, s) for s in cfg.test_splits}
        num_classes = read_list(train_list).num_classes
        for split, lst in {
            **test_lists,
            **{n: Path(p) for n, p in cfg.extra_tests.items()},
        }.items():  # before training: a test label the head cannot predict is an error
            bad = next((r for r in read_list(lst, cfg.data.root).records if r.label >= num_classes), None)
            if bad is not None:
                raise ValueError(
                    f"{lst}: label {bad.label} ({bad.path}) is outside the {num_classes} classes of the "
                    f"training list {train_list}; the {split!r} split must use the training labels"
                )
        class_names = _class_names(train_list)
        val_list = None
        if cfg.select == "val":
            train_list, val_list = _split_train_val(train_list, cfg.val_fraction, cfg.loop.seed, run.path)

        model = build_model(
            cfg.backbone, head="classifier", num_classes=num_classes, dropout=cfg.dropout, **cfg.backbone_kwargs
        )
        load_report = None
        if cfg.init:
            load_report = load_weights(model, cfg.init, load_head=False)
            if load_report.missing:
                raise ValueError(f"{cfg.init} leaves backbone weights missing: {load_report.missing[:5]}")
        clf = Classifier(model, frozen=cfg.freeze).to(device, memory_format=ctx.memory_format)

        dataset = training_dataset(
            cfg.data, train_list, ClipSampler(frames=cfg.data.frames, stride=cfg.data.stride, mode="random")
        )
        steps_per_epoch = len(dataset) // (cfg.batch_size * D.world_size())
        if steps_per_epoch < 1:
            raise ValueError(f"{train_list} has {len(dataset)} videos, fewer than one batch of {cfg.batch_size}")
        cfg.loop.steps = cfg.epochs * steps_per_epoch
        # warm-up for at most half the run, so that a short run (1 epoch) still decays
        warmup_steps = min(cfg.optim.warmup_steps + round(cfg.warmup_epochs * steps_per_epoch), cfg.loop.steps // 2)
        meta = {"task": "linear_probe" if cfg.freeze else "finetune", "arch": model.arch}
        trainer = build_trainer(
            ctx,
            clf,
            optim=cfg.optim,
            loop=cfg.loop,
            meta=meta,
            desc="probe" if cfg.freeze else "finetune",
            resume=resume,
            config=cfg,
            warmup_steps=warmup_steps,
            milestones=[m * steps_per_epoch for m in cfg.optim.milestones],
        )
        if load_report is not None:
            run.write_json(
                "init.json",
                {
                    "init": cfg.init,
                    "loaded": len(load_report.loaded),
                    "skipped": load_report.skipped,
                    "missing": load_report.missing,
                },
            )
        augment = training_augment(cfg.data)

        def step_fn(model_, batch, step):
            x = ctx.augment(augment, batch).contiguous(memory_format=ctx.memory_format)  # (B, C, T, h, w)
            logits = model_(x)  # (B, classes)
            labels = batch.labels.to(device)
            loss = F.cross_entropy(logits.float(), labels)
            acc = (logits.argmax(1) == labels).float().mean()
            return loss, {"train_acc": acc}, x.shape[0]

        # Epoch-end selection (only when asked: evaluation costs time).
        selection_lists = {"val": {"val": val_list}, "best_on_test": test_lists}.get(cfg.select)
        best: dict[str, Any] = {"score": -1.0, "epoch": None, "state": None}

        def on_step(step: int) -> None:
            if selection_lists is None or step % steps_per_epoch != 0:
                return
            split = next(iter(selection_lists))
            res = evaluate_splits(clf, {split: selection_lists[split]}, cfg, device)[split]
            clf.train()
            score = res["video_top1"]
            trainer.log(
                {"step": step, "epoch": step // steps_per_epoch, f"select_{split}_video_top1": score}, group="eval"
            )
            if score > best["score"]:
                best.update(score=score, epoch=step // steps_per_epoch, state=copy.deepcopy(clf.state_dict()))

        trainer.fit(ctx.batches(dataset, cfg.batch_size, cfg.data), step_fn, callback=on_step)
        if best["state"] is not None:
            clf.load_state_dict(best["state"])
        eval_dir = run.path / "eval" if run.main else None
        video_preds: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        results = evaluate_splits(clf, test_lists, cfg, device, eval_dir, class_names, predictions=video_preds)
        contrastive: dict[str, float] = {}
        if cfg.scufo_splits or cfg.extra_tests:
            more, contrastive = evaluate_counterfactuals(clf, cfg, device, eval_dir, class_names, video_preds)
            results.update(more)
        summary = {
            "selection": cfg.select,
            "selected_epoch": best["epoch"] if best["state"] is not None else cfg.epochs,
            "task": meta["task"],
            "init": cfg.init,
            "results": results,
        }
        if contrastive:
            summary["contrastive"] = contrastive
        if cfg.select == "best_on_test":
            summary["warning"] = "epoch selected on the test split (the paper's protocol): optimistic"
        run.write_json("results.json", summary)
        if run.main:
            from .models import checkpoint_dict

            atomic_save(checkpoint_dict(clf.model, task=meta["task"], num_classes=num_classes), run.path / "model.pt")
        D.barrier()
        return FinetuneResult(run.path, clf, results)


# ------------------------------------------------------------------------------------ CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = add_stage_parser(subparsers, "finetune", "finetune (or --freeze: linear probe) and evaluate", __doc__)
    f = FinetuneConfig()
    p.add_argument("--init", default=None, help="encoder.pt of a pretraining run (default: random init)")
    p.add_argument("--backbone", default=f.backbone)
    p.add_argument("--freeze", action="store_true", help="linear probe: frozen backbone, train the classifier only")
    add_data_flags(p)
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-splits", nargs="+", default=list(f.test_splits))
    p.add_argument("--run-dir", default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--epochs", type=int, default=f.epochs)
    p.add_argument("--batch-size", type=int, default=f.batch_size)
    add_optim_flags(p, f.optim, milestones="epochs")
    p.add_argument("--dropout", type=float, default=f.dropout)
    p.add_argument("--eval-resize", type=int, default=None)
    p.add_argument("--test-clips", type=int, default=f.test_clips, help="clips per video for video-level accuracy")
    p.add_argument(
        "--select",
        default="last",
        choices=["last", "val", "best_on_test"],
        help="report the last epoch (default), the best on a held-out val split, or the paper's "
        "best-on-test (optimistic)",
    )
    p.add_argument("--val-fraction", type=float, default=0.0)
    p.add_argument("--scufo-splits", nargs="+", default=[], help="test splits also scored on their SCUFO twins")
    p.add_argument("--extra-tests", nargs="+", default=[], metavar="NAME=LIST", help="extra test lists")
    p.add_argument(
        "--contrastive-pairs", nargs="+", default=[], metavar="SCUBA=SCUFO", help="pairs of extra tests, row by row"
    )
    add_device_flags(p)
    p.set_defaults(func=_cli_finetune)


def name_value_pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict; a value without ``=`` is an error naming ``flag``."""
    bad = [v for v in values or [] if "=" not in v]
    if bad:
        raise ValueError(f"{flag} takes NAME=VALUE pairs, got {bad}")
    return dict(v.split("=", 1) for v in values or [])


def _cli_finetune(a: argparse.Namespace) -> int:
    from .train import LoopConfig

    cfg = FinetuneConfig(
        run_dir=a.run_dir or ("runs/probe" if a.freeze else "runs/finetune"),
        data=data_from_args(a, a.train_split),
        test_splits=tuple(a.test_splits),
        optim=optim_from_args(a),
        loop=LoopConfig(
            amp=a.amp, progress=a.progress, tensorboard=a.tensorboard, seed=a.seed, log_every=10, checkpoint_every=0
        ),
        scufo_splits=tuple(a.scufo_splits),
        extra_tests=name_value_pairs(a.extra_tests, "--extra-tests"),
        contrastive_pairs=name_value_pairs(a.contrastive_pairs, "--contrastive-pairs"),
        **same_names(
            a, "init backbone freeze epochs batch_size dropout device test_clips eval_resize select val_fraction"
        ),
    )
    res = finetune(cfg, resume=a.resume)
    print(f"[{'probe' if a.freeze else 'finetune'}] {res.run_dir}  (selection: {a.select})")
    for split, r in res.results.items():
        print(
            f"  {split:12s} clip-level top-1 {r['clip_top1']:6.2f}  video-level top-1 {r['video_top1']:6.2f}  "
            f"mean class acc {r['mean_class_acc']:6.2f}  ({r['n_videos']} videos x {r['num_clips_per_video']} clips)"
        )
    print(json.dumps({s: {k: r[k] for k in ("clip_top1", "video_top1")} for s, r in res.results.items()}))
    summary = json.loads((res.run_dir / "results.json").read_text())
    for name, v in summary.get("contrastive", {}).items():
        print(f"  contrastive accuracy {name}: {v:6.2f}  (right on the video, wrong on its SCUFO twin)")
    return 0
