"""Units of a stage side by side (``CompareConfig.jobs``): the same runs as one after the other,
made in other processes, and a failing unit named."""

from __future__ import annotations

import json

import pytest
import torch
from test_compare import smoke_config

from tbe_lib.experiment import CompareConfig, run_comparison
from tbe_lib.utils import usable_cpus


def _config(tmp_path, out: str, **kw) -> CompareConfig:
    settings = dict(conditions={"static": (0,)}, rows=("random", "moco", "be"), scufo_splits=())
    return smoke_config(tmp_path, out, **{**settings, **kw})


def test_two_jobs_make_the_same_runs_in_other_processes(tmp_path):
    side = _config(tmp_path, "side", jobs=2)
    run_comparison(side, stages=("pretrain", "finetune"))
    threads = max(1, usable_cpus() // 2)
    seed0 = tmp_path / "side" / "static" / "seed0"
    env = json.loads((seed0 / "pretrain_be" / "environment.json").read_text())
    assert env["cpu_threads"] == threads  # made in a pool process, with its share of the threads
    assert (seed0 / "finetune_moco" / "results.json").exists()

    # The same comparison one unit after the other, in this process, with the same thread
    # count: bit-identical encoders and the same test results.
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        run_comparison(_config(tmp_path, "serial"), stages=("pretrain", "finetune"))
    finally:
        torch.set_num_threads(before)
    serial0 = tmp_path / "serial" / "static" / "seed0"
    for row in ("moco", "be"):
        a = torch.load(seed0 / f"pretrain_{row}" / "encoder.pt", weights_only=True)["state_dict"]
        b = torch.load(serial0 / f"pretrain_{row}" / "encoder.pt", weights_only=True)["state_dict"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), row
    for row in ("random", "moco", "be"):
        ra = json.loads((seed0 / f"finetune_{row}" / "results.json").read_text())["results"]
        rb = json.loads((serial0 / f"finetune_{row}" / "results.json").read_text())["results"]
        assert ra == rb, row


def test_a_failing_unit_is_named_and_the_stage_stops(tmp_path):
    cfg = _config(tmp_path, "bad", jobs=2, backbone_kwargs={"widths": (8, 16), "blocks": (1,)})
    with pytest.raises(RuntimeError, match=r"pretrain (moco|be) condition=static seed=0 .* failed"):
        run_comparison(cfg, stages=("pretrain", "finetune"))
    assert not list((tmp_path / "bad").rglob("results.json"))  # finetuning never started


def test_jobs_must_be_positive():
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        CompareConfig(jobs=0)


def test_a_unit_alone_in_its_stage_gets_the_thread_count_of_one_beside_another(tmp_path):
    """With ``jobs=2`` a stage with one unit to make runs it in this process, but with its share of
    the threads, not this process's count: what it computes does not depend on what else is left."""
    threads = max(1, usable_cpus() // 2)
    before = torch.get_num_threads()
    torch.set_num_threads(usable_cpus())  # more than the share, where the machine has 2 cores or more
    try:
        run_comparison(_config(tmp_path, "alone", rows=("random", "moco"), jobs=2), stages=("pretrain",))
        assert torch.get_num_threads() == usable_cpus()  # given back
    finally:
        torch.set_num_threads(before)
    env = json.loads((tmp_path / "alone" / "static" / "seed0" / "pretrain_moco" / "environment.json").read_text())
    assert env["cpu_threads"] == threads
