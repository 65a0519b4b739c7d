"""The comparison table: every row and column is produced, resumable, and summarised over seeds."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from tbe_lib.experiment import ROWS, CompareConfig, collect_table, run_comparison, summarise


def smoke_config(tmp_path, out: str = "cmp", **settings) -> CompareConfig:
    """A comparison at smoke size (a tiny r3d_tiny, 2 pretraining steps, 1 finetuning epoch) in
    ``tmp_path/out``, data in ``tmp_path/data``; ``settings`` override the defaults."""
    base = dict(
        out_dir=str(tmp_path / out),
        data_dir=str(tmp_path / "data"),
        synth_size="smoke",
        conditions={"static": (0, 1)},
        backbone_kwargs={"widths": (8, 16), "blocks": (1, 1)},
        pretrain_steps=2,
        pretrain_batch=8,
        queue_size=16,
        finetune_epochs=1,
        finetune_batch=8,
        workers=0,
        device="cpu",
        frames=4,
        stride=2,
        test_clips=1,
    )
    return CompareConfig(**{**base, **settings})


def test_comparison_on_smoke_data_is_complete_and_resumable(tmp_path):
    cfg = smoke_config(tmp_path)
    run_comparison(cfg)
    df = collect_table(cfg)
    assert len(df) == 2 * len(ROWS) and set(df.row) == set(ROWS)
    from tbe_lib.data.synth import SYNTH_VERSION, load_manifest
    from tbe_lib.experiment.reference import build_environment

    manifest = load_manifest(tmp_path / "data" / "synth-smoke-static")
    recorded = f"synth v{SYNTH_VERSION} {manifest['hash']}"
    assert build_environment(cfg.out_dir)["data"] == {"static": recorded}  # the benchmark it ran on
    cols = [
        "finetune_test_same",
        "finetune_test_shift",
        "probe_test_same",
        "probe_test_shift",
        "knn_test_shift",
        "R@1_test_shift",
        "R@10_test_same",
        "background_probe",
        "background_chance",
        # counterfactual tests (tests/test_counterfactual_eval.py): the motion probe, SCUFO twins
        "motion_probe_test_shift",
        "finetune_scufo_test_shift",
        "contrastive_test_shift",
        "probe_scufo_test_shift",
        "contrastive_probe_test_shift",
        "contrastive_motion_probe_test_shift",
    ]
    assert df[cols].notna().all().all(), df[cols]
    assert ((df[cols] >= 0) & (df[cols] <= 100)).all().all()
    # random and the floor share their finetuning run, but not their features.
    r, f = df[df.row == "random"].iloc[0], df[df.row == "sup_biased"].iloc[0]
    assert r.finetune_test_shift == f.finetune_test_shift
    assert json.loads((tmp_path / "cmp" / "table.json").read_text())[0]["row"] == "random"

    # Resumable: a second call finds every unit complete and rewrites nothing.
    results = sorted((tmp_path / "cmp").rglob("results.json")) + sorted((tmp_path / "cmp").rglob("retrieval.json"))
    before = [p.stat().st_mtime_ns for p in results]
    run_comparison(cfg)
    assert [p.stat().st_mtime_ns for p in results] == before

    # Other finetuning settings: the finetuning runs are moved aside and made again, and so is
    # what was computed from them (retrieval of the supervised rows, activation maps); the
    # pretraining runs and the SSL rows' retrieval (from the unchanged encoders) are reused.
    import dataclasses

    seed0 = tmp_path / "cmp" / "static" / "seed0"
    enc = (seed0 / "pretrain_be" / "encoder.pt").stat().st_mtime_ns
    ssl_retrieval = (seed0 / "retrieval_be" / "retrieval.json").stat().st_mtime_ns
    sup_retrieval = (seed0 / "retrieval_sup_unbiased" / "retrieval.json").stat().st_mtime_ns
    cfg2 = dataclasses.replace(cfg, finetune_lr=cfg.finetune_lr / 2)
    run_comparison(cfg2)
    stale = sorted(p.name.split(".stale-")[0] for p in seed0.glob("finetune_*.stale-*"))
    assert stale == sorted(f"finetune_{r}" for r in ROWS if r != "sup_biased")
    ft = json.loads((seed0 / "finetune_be" / "config.json").read_text())
    assert ft["optim"]["lr"] == cfg2.finetune_lr and ft["optim"]["name"] == "adamw"
    assert (seed0 / "pretrain_be" / "encoder.pt").stat().st_mtime_ns == enc
    assert (seed0 / "retrieval_be" / "retrieval.json").stat().st_mtime_ns == ssl_retrieval
    assert (seed0 / "retrieval_sup_unbiased" / "retrieval.json").stat().st_mtime_ns > sup_retrieval
    cams = json.loads((seed0 / "actor_mass.json").read_text())["rows"]
    from tbe_lib.experiment import file_digest

    assert cams["be"]["model_sha256"] == file_digest(seed0 / "finetune_be" / "model.pt")

    # A copy of the whole project (new paths, new modification times) reuses every run.
    import shutil

    shutil.copytree(tmp_path / "cmp", tmp_path / "moved" / "cmp")  # copytree keeps mtimes: touch them all
    for p in (tmp_path / "moved").rglob("*"):
        p.touch()
    shutil.copytree(tmp_path / "data", tmp_path / "moved" / "data")
    cfg3 = dataclasses.replace(cfg2, out_dir=str(tmp_path / "moved" / "cmp"), data_dir=str(tmp_path / "moved" / "data"))
    moved = sorted(
        p for p in (tmp_path / "moved" / "cmp").rglob("*.json") if p.name not in ("compare_config.json", "data.json")
    )
    before = [p.stat().st_mtime_ns for p in moved]
    stale_before = sorted(p.name for p in (tmp_path / "moved" / "cmp").rglob("*.stale-*"))
    run_comparison(cfg3)
    assert [p.stat().st_mtime_ns for p in moved] == before
    assert sorted(p.name for p in (tmp_path / "moved" / "cmp").rglob("*.stale-*")) == stale_before

    mean, std, pretty = summarise(df, ["finetune_test_shift", "background_probe"])
    assert list(pretty.seeds) == [2] * len(ROWS)
    assert " ± " in pretty.loc[("static", "moco"), "background_probe"]
    assert abs(mean.loc[("static", "moco"), "background_probe"] - df[df.row == "moco"].background_probe.mean()) < 1e-9
    assert isinstance(pretty, pd.DataFrame)


def test_comparison_on_list_files_of_a_real_dataset_layout(tmp_path, smoke_bench):
    """synthetic=False: any folder with lists/<split>.txt (here: train/test lists pointing at the
    smoke videos, as `tbe data lists` would write for UCF101) runs the same pipeline."""
    from tbe_lib.data.listfile import read_list, write_list

    ds = tmp_path / "fake_ucf"
    for split, src in (("train", "train"), ("test", "test_same")):
        vl = read_list(smoke_bench / "lists" / f"{src}.txt")
        write_list(
            ds / "lists" / f"{split}.txt",
            vl.records,
            format="video",
            root=vl.root.resolve(),
            dataset="fake_ucf",
            num_classes=8,
        )
    cfg = CompareConfig(
        out_dir=str(tmp_path / "cmp"),
        synthetic=False,
        data_dirs={"fake_ucf": str(ds)},
        conditions={"fake_ucf": (0,)},
        pretrain_split="train",
        train_split="train",
        test_splits=("test",),
        backbone_kwargs={"widths": (8, 16), "blocks": (1, 1)},
        pretrain_steps=2,
        pretrain_batch=8,
        queue_size=16,
        finetune_epochs=1,
        finetune_batch=8,
        workers=0,
        device="cpu",
        frames=4,
        stride=2,
        test_clips=1,
    )
    # the default rows without those that need the benchmark (the supervised rows, the oracle)
    assert cfg.rows == ("random", "moco", "moco_paper", "be", "be_other", "be_paper", "fame", "pan_direction")
    run_comparison(cfg)
    df = collect_table(cfg)
    assert set(df.row) == set(cfg.rows)
    assert df[["finetune_test", "probe_test", "R@1_test"]].notna().all().all()
    assert "background_probe" not in df and "actor_mass_ratio" not in df


def test_list_templates_and_pretrain_from(tmp_path):
    """A list template names every split of a real dataset; pretrain_from is checked and makes
    a dataset finetune another's encoders."""
    import pytest

    from tbe_lib.data.listfile import resolve_list
    from tbe_lib.experiment import encoder_path, finetune_config, list_for

    (tmp_path / "ds").mkdir()
    for split in ("train", "test"):
        (tmp_path / "ds" / f"ds_video_{split}_split1.txt").write_text("a.mp4 0\n")
    template = str(tmp_path / "ds" / "ds_video_{split}_split1.txt")
    assert resolve_list(template, "test") == tmp_path / "ds" / "ds_video_test_split1.txt"
    with pytest.raises(FileNotFoundError, match="no 'val' list.*tbe data lists"):
        resolve_list(template, "val")

    common = dict(
        out_dir=str(tmp_path / "cmp"),
        synthetic=False,
        data_dirs={"a": template, "b": template},
        pretrain_split="train",
        test_splits=("test",),
    )
    cfg = CompareConfig(**common, conditions={"a": (0, 1), "b": (0,)}, pretrain_from={"b": "a"}, finetune_frames=64)
    assert list_for(cfg, "b", "train").name == "ds_video_train_split1.txt"
    assert encoder_path(cfg, "b", 0, "be") == tmp_path / "cmp" / "a" / "seed0" / "pretrain_be" / "encoder.pt"
    fc = finetune_config(cfg, "b", 0, "be")
    assert (
        fc.init == str(encoder_path(cfg, "b", 0, "be"))
        and fc.data.frames == 64
        and fc.run_dir.endswith("b/seed0/finetune_be")
    )
    with pytest.raises(ValueError, match="seeds \\[1\\] that 'a' does not pretrain"):
        CompareConfig(**common, conditions={"a": (0,), "b": (1,)}, pretrain_from={"b": "a"})
    with pytest.raises(ValueError, match="must both be conditions"):
        CompareConfig(**common, conditions={"a": (0,), "b": (0,)}, pretrain_from={"b": "c"})


def test_synth_renders_a_variant_benchmark_that_the_comparison_runs_on(tmp_path):
    """``synth``: SynthConfig fields (here the actor's speed) replace the preset's for every
    condition; the variant is rendered in its own folder, the benchmark's probes stay on
    (synthetic), and a bad field is one error naming ``synth`` before anything runs."""
    import pytest

    from tbe_lib.compare import add_cli, config_from_args
    from tbe_lib.data.synth import config_for, load_manifest
    from tbe_lib.experiment import ensure_data

    slow = {"speed": [0.005, 0.01]}
    cfg = smoke_config(tmp_path, synth=slow, data_dirs={"static": str(tmp_path / "slow")})
    assert cfg.synth_config("static") == config_for("smoke", camera="static", speed=(0.005, 0.01))
    assert cfg.motion_split and cfg.background_split  # still the benchmark's probes
    variant = load_manifest(ensure_data(cfg, "static"))
    assert variant["config"]["speed"] == slow["speed"] and variant["config"]["camera"] == "static"
    preset = load_manifest(ensure_data(smoke_config(tmp_path), "static"))
    assert preset["config"]["speed"] != slow["speed"] and preset["hash"] != variant["hash"]

    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    assert config_from_args(p.parse_args(["compare", "--synth", json.dumps(slow)])).synth == slow
    with pytest.raises(ValueError, match=r"synth: unknown SynthConfig fields \['sped'\]"):
        smoke_config(tmp_path, synth={"sped": [0.005, 0.01]})
    with pytest.raises(ValueError, match=r"synth: SynthConfig.speed=\[0.02, 0.01\]: expected \(low, high\)"):
        smoke_config(tmp_path, synth={"speed": [0.02, 0.01]})
    with pytest.raises(ValueError, match="synth: the camera is each condition's name"):
        smoke_config(tmp_path, synth={"camera": "pan"})
