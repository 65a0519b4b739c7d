"""Finetuning, linear probe and retrieval end to end on the smoke benchmark."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from tbe_lib.config import DataConfig, OptimConfig
from tbe_lib.finetune import FinetuneConfig, finetune
from tbe_lib.methods import MethodConfig
from tbe_lib.pretrain import PretrainConfig, pretrain
from tbe_lib.retrieve import RetrievalConfig, retrieve
from tbe_lib.train import LoopConfig
from tbe_lib.utils import safe_load

TINY = {"widths": (8, 16), "blocks": (1, 1), "stem_stride": (1, 2, 2)}


def data_cfg(bench, split="train"):
    return DataConfig(source=str(bench), split=split, frames=4, stride=2, size=32, workers=0, jitter=None, gray_p=0.0)


@pytest.fixture(scope="module")
def encoder_ckpt(tmp_path_factory, smoke_bench):
    run = tmp_path_factory.mktemp("pre")
    pretrain(
        PretrainConfig(
            run_dir=str(run),
            backbone="r3d_tiny",
            backbone_kwargs=dict(TINY),
            batch_size=8,
            device="cpu",
            data=data_cfg(smoke_bench, "pretrain"),
            method=MethodConfig(method="be", queue_size=64),
            loop=LoopConfig(steps=4, checkpoint_every=0, progress="off"),
        )
    )
    return run / "encoder.pt"


def ft_cfg(run_dir, bench, **kw):
    return FinetuneConfig(
        run_dir=str(run_dir),
        backbone="r3d_tiny",
        backbone_kwargs=dict(TINY),
        epochs=2,
        batch_size=8,
        device="cpu",
        data=data_cfg(bench),
        test_clips=2,
        optim=OptimConfig(lr=0.05),
        loop=LoopConfig(checkpoint_every=0, progress="off"),
        **kw,
    )


def test_finetune_reports_clip_and_video_level_and_writes_outputs(tmp_path, smoke_bench, encoder_ckpt):
    res = finetune(ft_cfg(tmp_path / "ft", smoke_bench, init=str(encoder_ckpt)))
    for split in ("test_same", "test_shift"):
        r = res.results[split]
        assert 0 <= r["clip_top1"] <= 100 and 0 <= r["video_top1"] <= 100
        assert r["n_videos"] == 16 and r["n_clips"] == 32 and r["num_clips_per_video"] == 2
        d = res.run_dir / "eval" / split
        rows = list(csv.DictReader(open(d / "predictions.csv")))
        assert len(rows) == 16 and {"path", "label", "pred"} <= set(rows[0])
        # The reported video-level top-1 is the accuracy of the written predictions.
        acc = 100 * np.mean([int(r_["label"]) == int(r_["pred"]) for r_ in rows])
        assert acc == pytest.approx(r["video_top1"])
        cm = np.load(d / "confusion.npy")
        assert cm.shape == (8, 8) and cm.sum() == 16 and np.trace(cm) == round(acc * 16 / 100)
        assert (d / "confusion.png").stat().st_size > 1000 and (d / "per_class.csv").exists()
    summary = json.loads((res.run_dir / "results.json").read_text())
    assert summary["selection"] == "last" and summary["task"] == "finetune"
    model = safe_load(res.run_dir / "model.pt")
    assert model["arch"]["head"]["kind"] == "classifier" and model["num_classes"] == 8
    init = json.loads((res.run_dir / "init.json").read_text())
    assert init["loaded"] > 0 and not init["missing"]
    assert any(k.startswith("head.") for k in init["skipped"])  # projection head not transferred


def test_linear_probe_leaves_the_backbone_unchanged(tmp_path, smoke_bench, encoder_ckpt):
    res = finetune(ft_cfg(tmp_path / "probe", smoke_bench, init=str(encoder_ckpt), freeze=True))
    enc = safe_load(encoder_ckpt)["state_dict"]
    bb = {k[len("backbone.") :]: v for k, v in res.model.model.state_dict().items() if k.startswith("backbone.")}
    assert bb, "no backbone weights"
    for k, v in bb.items():  # weights *and* BN running statistics are untouched
        assert torch.equal(v, enc["backbone." + k]), k
    assert json.loads((res.run_dir / "results.json").read_text())["task"] == "linear_probe"
    head = res.model.model.head
    assert any(p.requires_grad for p in head.parameters())
    assert not any(p.requires_grad for p in res.model.model.backbone.parameters())


def test_selection_protocols_are_named(tmp_path, smoke_bench):
    res = finetune(ft_cfg(tmp_path / "val", smoke_bench, select="val", val_fraction=0.25))
    s = json.loads((res.run_dir / "results.json").read_text())
    assert s["selection"] == "val" and s["selected_epoch"] in (1, 2)
    res = finetune(ft_cfg(tmp_path / "bot", smoke_bench, select="best_on_test"))
    s = json.loads((res.run_dir / "results.json").read_text())
    assert "optimistic" in s["warning"]
    with pytest.raises(ValueError, match="val_fraction"):
        ft_cfg(tmp_path / "x", smoke_bench, select="val")


def test_checkpoint_from_another_architecture_is_refused(tmp_path, smoke_bench, encoder_ckpt):
    cfg = ft_cfg(tmp_path / "bad", smoke_bench, init=str(encoder_ckpt))
    cfg.backbone_kwargs = {**TINY, "widths": (8, 32)}
    with pytest.raises(ValueError, match="r3d_tiny"):
        finetune(cfg)


def test_retrieval_pipeline_and_feature_cache(tmp_path, smoke_bench, encoder_ckpt):
    cfg = RetrievalConfig(
        out_dir=str(tmp_path / "ret"),
        checkpoint=str(encoder_ckpt),
        data=str(smoke_bench),
        frames=4,
        stride=2,
        num_clips=2,
        ks=(1, 5, 10),
        workers=0,
        device="cpu",
        batch_size=8,
    )
    r = retrieve(cfg)
    assert r["feature_dim"] == 16
    for split in ("test_same", "test_shift"):
        rec = r["recall"][split]
        assert list(rec) == ["1", "5", "10"]
        assert 0 <= rec["1"] <= rec["5"] <= rec["10"] <= 100  # recall@k grows with k
        assert 0 <= r["knn"][split] <= 100 and 0 <= r["linear_probe"][split] <= 100
    bp = r["background_probe"]
    assert 100 / 14 - 1e-9 <= bp["chance"] <= 50 and 0 <= bp["accuracy"] <= 100  # 14 photographs at most
    assert (tmp_path / "ret" / "embedding.png").exists()
    feats = sorted((tmp_path / "ret" / "features").glob("*.pt"))
    assert len(feats) == 4  # gallery, two query splits, background split
    mtimes = [f.stat().st_mtime_ns for f in feats]
    r2 = retrieve(cfg)  # cached: same numbers, no file rewritten
    assert r2["recall"] == r["recall"]
    assert [f.stat().st_mtime_ns for f in feats] == mtimes
    # Random initialisation is the first row of the paper's tables.
    rr = retrieve(
        RetrievalConfig(
            out_dir=str(tmp_path / "rand"),
            checkpoint=None,
            backbone_kwargs=dict(TINY),
            data=str(smoke_bench),
            frames=4,
            stride=2,
            num_clips=1,
            ks=(1,),
            workers=0,
            device="cpu",
            embedding=None,
        )
    )
    assert rr["checkpoint"] is None and "1" in rr["recall"]["test_same"]


def test_flips_are_off_by_default_on_the_embedded_benchmark(tmp_path, smoke_bench):
    """Its classes are directions: a horizontal flip would swap translate_left/right labels."""
    from tbe_lib.config import flip_for

    assert flip_for(smoke_bench) is False
    assert flip_for(tmp_path / "ucf101_train.txt") is True
    assert flip_for(smoke_bench, "on") is True and flip_for(tmp_path, "off") is False
    with pytest.raises(ValueError, match="flip"):
        flip_for(smoke_bench, "sometimes")


def test_optimizer_choice_and_config_changes(tmp_path):
    """OptimConfig names the optimiser; config_changes tells a complete run made with other
    settings from one that differs only in what does not change the result."""
    import json

    import pytest
    import torch

    from tbe_lib.config import OptimConfig, build_optimizer
    from tbe_lib.experiment import config_changes
    from tbe_lib.finetune import FinetuneConfig
    from tbe_lib.train.rundir import to_jsonable

    params = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(build_optimizer(params, OptimConfig(name="adamw", lr=1e-3)), torch.optim.AdamW)
    assert isinstance(build_optimizer(params, OptimConfig()), torch.optim.SGD)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        OptimConfig(name="adam")

    cfg = FinetuneConfig(run_dir=str(tmp_path / "run"), epochs=3)
    assert config_changes(cfg) == []  # no run there
    (tmp_path / "run").mkdir()
    saved = to_jsonable(cfg)
    saved["loop"]["steps"] = 75  # derived by finetune() from the data
    del saved["optim"]["name"], saved["warmup_epochs"]  # a config.json written before these fields existed
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    assert config_changes(cfg) == []
    cfg.data.workers, cfg.device = 7, "cuda"  # not part of the result
    cfg.data.source = "/somewhere/else/" + cfg.data.source  # the project moved: same last two components
    assert config_changes(cfg) == []
    cfg.data.source = "data/other"
    assert config_changes(cfg) == ["data.source: 'data/synth' -> 'data/other'"]
    cfg.data.source = saved["data"]["source"]
    saved["backbone_kwargs"] = {"widths": [8, 16]}  # a key only the saved run has still counts
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    assert config_changes(cfg) == ["backbone_kwargs.widths: [8, 16] -> None"]
    saved["backbone_kwargs"] = {}
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    cfg.optim = OptimConfig(name="adamw", lr=1e-3)
    changes = config_changes(cfg)
    assert "optim.name: 'sgd' -> 'adamw'" in changes and any(c.startswith("optim.lr:") for c in changes)
    # An interrupted run (config.json, no result yet) with other settings is moved aside too.
    from tbe_lib.experiment import retire_if_changed

    assert retire_if_changed(cfg) and not (tmp_path / "run").exists()
    assert len(list(tmp_path.glob("run.stale-*/config.json"))) == 1
