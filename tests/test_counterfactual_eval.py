"""Counterfactual tests and the statistics over seeds: SCUFO twins (one frame repeated), the
contrastive accuracy, the motion probe, extra test lists on real data, confidence intervals and
paired differences against a reference row."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from tbe_lib.evaluate import contrastive_accuracy, linear_probe
from tbe_lib.experiment import CompareConfig, collect_table, mean_ci, paired_differences, run_comparison, summarise
from tbe_lib.experiment import table as T
from tbe_lib.experiment.plan import steps
from tbe_lib.features import scufo_clips
from tbe_lib.retrieve import RetrievalConfig, retrieve

TINY = {"widths": (8, 16), "blocks": (1, 1)}


# ---------------------------------------------------------------------------- SCUFO twins
@pytest.mark.parametrize("frames", [5, 4])
def test_scufo_repeats_exactly_the_middle_frame(frames):
    clips = torch.randn(2, 3, frames, 6, 7)  # (B, C, T, H, W)
    still = scufo_clips(clips)
    assert still.shape == clips.shape
    for t in range(frames):
        assert torch.equal(still[:, :, t], clips[:, :, frames // 2])
    assert not torch.equal(still, clips)
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        scufo_clips(clips[0])


def test_contrastive_accuracy_on_hand_made_predictions():
    labels = [0, 1, 2, 3]
    scuba = [0, 1, 2, 0]  # right, right, right, wrong
    scufo = [1, 1, 0, 3]  # wrong, right, wrong, right
    # right on the video and wrong on its twin: videos 0 and 2 -> 2 of 4
    assert contrastive_accuracy(scuba, scufo, labels) == 50.0
    # scores are reduced by argmax
    onehot = torch.nn.functional.one_hot(torch.tensor(scufo), 4).float()
    assert contrastive_accuracy(scuba, onehot, labels) == 50.0
    with pytest.raises(ValueError, match="pair 1 has label 1 on the SCUBA side and 2"):
        contrastive_accuracy(scuba, scufo, labels, [0, 2, 2, 3])
    with pytest.raises(ValueError, match="scufo_preds has 3 rows"):
        contrastive_accuracy(scuba, scufo[:3], labels)


# ------------------------------------------------------------------------- motion probe
def test_motion_probe_and_scufo_twins_in_retrieval_json(tmp_path, smoke_bench):
    cfg = RetrievalConfig(
        out_dir=str(tmp_path / "ret"),
        backbone_kwargs=dict(TINY),
        data=str(smoke_bench),
        frames=4,
        stride=2,
        num_clips=1,
        ks=(1,),
        workers=0,
        device="cpu",
        embedding=None,
        background_split=None,
        motion_split="train_unbiased",
        scufo_splits=("test_shift",),
    )
    r = retrieve(cfg)
    saved = json.loads((tmp_path / "ret" / "retrieval.json").read_text())
    assert saved["motion_probe"]["split"] == "train_unbiased"
    assert set(saved["motion_probe"]["accuracy"]) == {"test_same", "test_shift"}
    twin = saved["scufo"]["test_shift"]
    assert set(twin) == {"probe", "contrastive_probe", "motion_probe", "contrastive_motion_probe"}
    assert all(0 <= v <= 100 for v in [*twin.values(), *saved["motion_probe"]["accuracy"].values()])
    # The probes are those of before (one fit on the gallery, scored on every test set).
    from tbe_lib.features import FeatureSet

    feats = {p.name.split("-")[0]: FeatureSet.load(p) for p in (tmp_path / "ret" / "features").glob("*.pt")}
    assert set(feats) == {"train", "test_same", "test_shift", "train_unbiased", "scufo_test_shift"}
    g, q, m = feats["train"], feats["test_shift"], feats["train_unbiased"]
    C = list(cfg.probe_c)  # the L2 strength each probe chooses on held-out data
    assert r["linear_probe"]["test_shift"] == linear_probe(g.feats, g.labels, q.feats, q.labels, C=C, seed=0).accuracy
    assert (
        r["motion_probe"]["accuracy"]["test_shift"] == linear_probe(m.feats, m.labels, q.feats, q.labels, C=C).accuracy
    )
    assert not torch.equal(feats["scufo_test_shift"].feats, q.feats)  # the twins are other clips
    with pytest.raises(ValueError, match="scufo_splits \\['test'\\] are not test splits"):
        RetrievalConfig(scufo_splits=("test",))


# ------------------------------------------------------------------- real data, extra lists
def _fake_dataset(tmp_path, smoke_bench):
    """A real-data layout (lists/train.txt, lists/test.txt) on the smoke videos, and two extra
    lists a user would have built: SCUBA (here the shifted test videos) and its SCUFO twin list
    (the same videos, row by row)."""
    from tbe_lib.data.listfile import read_list, write_list

    ds = tmp_path / "fake_ucf"
    for name, src in (("lists/train.txt", "train"), ("lists/test.txt", "test_same"), ("scuba.txt", "test_shift")):
        vl = read_list(smoke_bench / "lists" / f"{src}.txt")
        write_list(ds / name, vl.records, format="video", root=vl.root.resolve(), dataset="fake_ucf", num_classes=8)
    (ds / "scufo.txt").write_text((ds / "scuba.txt").read_text())
    return ds


def test_extra_test_lists_reach_the_table_and_only_the_evaluation_reruns(tmp_path, smoke_bench):
    ds = _fake_dataset(tmp_path, smoke_bench)
    common = dict(
        out_dir=str(tmp_path / "cmp"),
        data_dir=str(tmp_path),
        synthetic=False,
        data_dirs={"fake_ucf": str(ds)},
        conditions={"fake_ucf": (0,)},
        rows=("random",),
        pretrain_split="train",
        test_splits=("test",),
        backbone_kwargs=TINY,
        finetune_epochs=1,
        finetune_batch=8,
        workers=0,
        device="cpu",
        frames=4,
        stride=2,
        test_clips=1,
    )
    # on real data the benchmark's SCUFO split and motion probe fall away
    assert CompareConfig(**common).scufo_splits == () and CompareConfig(**common).motion_split is None
    cfg = CompareConfig(**common, scufo_splits=("test",), extra_tests={"scuba": "{data_dir}/{condition}/scuba.txt"})
    run_comparison(cfg)
    run = tmp_path / "cmp" / "fake_ucf" / "seed0" / "finetune_random"
    model_time = (run / "model.pt").stat().st_mtime_ns
    df = collect_table(cfg)
    for col in ("finetune_scuba", "finetune_scufo_test", "contrastive_test", "probe_scuba", "knn_scuba"):
        assert df[col].notna().all(), col
    for col in ("probe_scufo_test", "contrastive_probe_test"):
        assert df[col].notna().all(), col
    assert "motion_probe_test" not in df

    # A SCUBA/SCUFO pair declared later: the saved model is scored again, not retrained.
    cfg2 = CompareConfig(
        **common,
        scufo_splits=("test",),
        extra_tests={"scuba": "{data_dir}/{condition}/scuba.txt", "scufo": "{data_dir}/{condition}/scufo.txt"},
        contrastive_pairs={"scuba": "scufo"},
    )
    assert [s.stage for s in steps(cfg2, ("finetune",))] == ["finetune", "evaluate"]
    run_comparison(cfg2)
    assert (run / "model.pt").stat().st_mtime_ns == model_time
    assert not list(run.parent.glob("finetune_random.stale-*"))
    assert list(run.parent.glob("retrieval_random.stale-*"))  # the retrieval is evaluated again
    df = collect_table(cfg2)
    # the two lists hold the same videos: a twin is never classified otherwise than its video
    assert (df["contrastive_scuba"] == 0).all() and (df["contrastive_probe_scuba"] == 0).all()
    assert (df["finetune_scuba"] == df["finetune_scufo"]).all()
    ev = json.loads((run / "evaluation.json").read_text())
    assert set(ev["results"]) == {"scufo_test", "scuba", "scufo"} and set(ev["contrastive"]) == {"test", "scuba"}

    # a pair of lists whose rows are not the same videos is named
    bad = ds / "other.txt"
    lines = (ds / "scuba.txt").read_text().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#")]
    bad.write_text("\n".join(head + body[1:] + body[:1]) + "\n")
    cfg3 = CompareConfig(
        **common, extra_tests={"scuba": str(ds / "scuba.txt"), "scufo": str(bad)}, contrastive_pairs={"scuba": "scufo"}
    )
    with pytest.raises(ValueError, match="other.txt.*same videos in the same order"):
        run_comparison(cfg3, stages=("finetune",))
    with pytest.raises(ValueError, match="must name two different extra tests"):
        CompareConfig(**common, extra_tests={"scuba": str(bad)}, contrastive_pairs={"scuba": "x"})


# --------------------------------------------------------------------------- statistics
def test_confidence_intervals_against_known_values(monkeypatch):
    assert T.t_quantile(2) == pytest.approx(4.303, abs=1e-3)
    assert T.t_quantile(9) == pytest.approx(2.262, abs=1e-3)
    m, half, n = mean_ci([1.0, 2.0, 3.0])  # std 1, n 3: 4.303 / sqrt(3)
    assert (m, n) == (2.0, 3) and half == pytest.approx(4.303 / math.sqrt(3), abs=1e-3)
    assert math.isnan(mean_ci([5.0, float("nan")])[1]) and mean_ci([5.0, float("nan")])[2] == 1
    monkeypatch.setattr(T, "_student_t", None)  # without scipy: the table
    assert T.t_quantile(2) == 4.303 and T.t_quantile(30) == 2.042 and T.t_quantile(200) == 1.960
    with pytest.raises(ValueError, match="only the 95 % interval"):
        T.t_quantile(2, level=0.9)
    with pytest.raises(ValueError, match=">= 1 degree of freedom"):
        T.t_quantile(0)


def _table() -> pd.DataFrame:
    recs = []
    base = {"moco": 40.0, "be": 45.0, "random": 30.0}
    for seed, shift in zip((0, 1, 2), (0.0, 2.0, -1.0)):
        for row, v in base.items():
            bump = {"be": (1.0, 3.0, 2.0)[seed]}.get(row, 0.0)  # be - moco = 5 + (1, 3, 2)
            recs.append({"condition": "static", "seed": seed, "row": row, "model": row, "acc": v + shift + bump})
    return pd.DataFrame(recs)


def test_paired_differences_and_ci_summary_on_a_synthetic_table():
    df = _table()
    d = paired_differences(df, columns=["acc"]).set_index("row")
    assert list(d.index) == ["be", "random"] and set(d.reference) == {"moco"}
    assert d.loc["be", "diffs"] == [6.0, 8.0, 7.0] and d.loc["be", "seeds"] == [0, 1, 2]
    assert d.loc["be", "mean"] == pytest.approx(7.0) and d.loc["be", "n"] == 3
    half = 4.303 * 1.0 / math.sqrt(3)  # the differences' std is 1
    assert d.loc["be", "ci_low"] == pytest.approx(7.0 - half, abs=1e-3)
    assert d.loc["be", "ci_high"] == pytest.approx(7.0 + half, abs=1e-3)
    assert d.loc["random", "diffs"] == [-10.0] * 3 and d.loc["random", "ci_low"] == pytest.approx(-10.0)
    # no moco row: the first pretraining row is the reference
    d2 = paired_differences(df[df.row != "moco"], columns=["acc"])
    assert set(d2.reference) == {"be"} and d2.iloc[0]["diffs"] == [-16.0, -18.0, -17.0]
    with pytest.raises(ValueError, match="no reference row"):
        paired_differences(df[df.row == "random"], columns=["acc"])
    with pytest.raises(ValueError, match="columns \\['nope'\\]"):
        paired_differences(df, columns=["nope"])

    mean, ci, pretty = summarise(df, ["acc"], spread="ci95")
    _, std, pretty_std = summarise(df, ["acc"])  # the default stays mean ± std
    moco = np.array([40.0, 42.0, 39.0])
    assert std.loc[("static", "moco"), "acc"] == pytest.approx(moco.std(ddof=1))
    assert ci.loc[("static", "moco"), "acc"] == pytest.approx(4.303 * moco.std(ddof=1) / math.sqrt(3), abs=1e-3)
    assert pretty.loc[("static", "moco"), "acc"] == f"40.3 ± {4.303 * moco.std(ddof=1) / math.sqrt(3):.1f}"
    assert pretty_std.loc[("static", "moco"), "acc"] == f"40.3 ± {moco.std(ddof=1):.1f}"
    assert list(pretty.columns) == list(pretty_std.columns) == ["model", "seeds", "acc"]
