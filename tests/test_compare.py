"""The comparison table: every row and column is produced, resumable, and summarised over seeds."""
from __future__ import annotations

import json

import pandas as pd

from tbe_lib.compare import ROWS, CompareConfig, collect_table, run_comparison, summarise


def test_comparison_on_smoke_data_is_complete_and_resumable(tmp_path):
    cfg = CompareConfig(out_dir=str(tmp_path / "cmp"), data_dir=str(tmp_path / "data"), synth_size="smoke",
                        conditions={"static": (0, 1)}, backbone_kwargs={"widths": (8, 16), "blocks": (1, 1)},
                        pretrain_steps=2, pretrain_batch=8, queue_size=16, finetune_epochs=1, finetune_batch=8,
                        workers=0, device="cpu", frames=4, stride=2, test_clips=1)
    run_comparison(cfg)
    df = collect_table(cfg)
    assert len(df) == 2 * len(ROWS) and set(df.row) == set(ROWS)
    cols = ["finetune_test_same", "finetune_test_shift", "probe_test_same", "probe_test_shift", "knn_test_shift",
            "R@1_test_shift", "R@10_test_same", "background_probe", "background_chance"]
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

    mean, std, pretty = summarise(df, ["finetune_test_shift", "background_probe"])
    assert list(pretty.seeds) == [2] * len(ROWS)
    assert " ± " in pretty.loc[("static", "moco"), "background_probe"]
    assert abs(mean.loc[("static", "moco"), "background_probe"]
               - df[df.row == "moco"].background_probe.mean()) < 1e-9
    assert isinstance(pretty, pd.DataFrame)
