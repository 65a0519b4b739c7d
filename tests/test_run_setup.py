"""One set-up and one data stack for every training stage (tbe_lib.train.setup).

Training reads its batches through the same loader as evaluation, so bad files are accounted
for the same way: the skipped clips of every epoch land in ``metrics.jsonl``, a warning names
the files, and past ``DataConfig.skip_limit`` the run stops with one clear error."""

from __future__ import annotations

import json
import warnings

import pytest
from test_pretrain import TINY, make_cfg

from tbe_lib.data.dataset import TooManyBadFiles
from tbe_lib.finetune import FinetuneConfig, finetune
from tbe_lib.pretrain import pretrain
from tbe_lib.train import LoopConfig, read_metrics


def _list_with_bad_files(smoke_bench, tmp_path, n_bad: int):
    """The smoke benchmark's pretraining list plus ``n_bad`` files that cannot be read."""
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video" * 50)
    lines = [f"{smoke_bench}/videos/pretrain/{i:05d}.mp4 {i % 8}" for i in range(16)]
    bad = [str(tmp_path / "corrupt.mp4"), str(tmp_path / "missing.mp4")][:n_bad]
    lst = tmp_path / "with_bad.txt"
    lst.write_text("# format: video\n" + "\n".join(lines + [f"{p} 0" for p in bad]) + "\n")
    return lst, bad


def test_pretraining_counts_skipped_clips_per_epoch_and_names_the_files(tmp_path, smoke_bench):
    lst, bad = _list_with_bad_files(smoke_bench, tmp_path, 2)
    cfg = make_cfg(tmp_path / "run", lst, "be", steps=8)  # 18 videos, batch 8: 2 steps per epoch
    cfg.data.on_error = "skip"
    cfg.data.skip_limit = 0.2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pretrain(cfg)
    records = [r for r in read_metrics(tmp_path / "run") if "skipped_clips" in r]
    assert records, "no epoch reported its skipped clips"
    assert all(r["step"] % 2 == 0 and r["epoch"] == r["step"] // 2 for r in records)
    assert sum(r["skipped_clips"] for r in records) >= 2  # every epoch meets both bad files at least once...
    assert {p for r in records for p in r["first_bad"]} == set(bad)  # ...and names them
    assert any("items were replaced because of" in str(w.message) and "corrupt.mp4" in str(w.message) for w in caught)


def test_finetuning_stops_past_the_skip_limit_naming_the_files(tmp_path, smoke_bench):
    lst, bad = _list_with_bad_files(smoke_bench, tmp_path, 2)
    from tbe_lib.config import DataConfig

    cfg = FinetuneConfig(
        run_dir=str(tmp_path / "ft"),
        backbone_kwargs=dict(TINY),
        epochs=2,
        batch_size=8,
        device="cpu",
        test_splits=(),
        data=DataConfig(
            source=str(lst), frames=4, stride=2, workers=0, on_error="skip", skip_limit=0.05
        ),  # 18 videos: at most 1 bad file
        loop=LoopConfig(checkpoint_every=0, progress="off"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TooManyBadFiles, match=r"2 of 18 videos could not be read .*corrupt\.mp4.*limit of 5%"):
            finetune(cfg)


def test_the_training_stream_is_the_evaluation_loader(tmp_path, smoke_bench):
    """pretrain and finetune build their batches with build_loader (one stack), and their
    config.json and environment.json come from the same set-up."""
    res = pretrain(make_cfg(tmp_path / "p", smoke_bench, "moco", steps=2))
    for name in ("config.json", "environment.json"):
        assert json.loads((res.run_dir / name).read_text())
    import inspect

    from tbe_lib import finetune as ft_mod
    from tbe_lib import pretrain as pt_mod

    for mod in (pt_mod, ft_mod):
        src = inspect.getsource(mod)
        assert "DataLoader(" not in src and "StepSampler" not in src and "seed_everything" not in src, mod.__name__


def test_environment_json_records_what_the_numbers_depend_on(tmp_path, smoke_bench):
    res = pretrain(make_cfg(tmp_path / "p", smoke_bench, "be", steps=1))
    env = json.loads((res.run_dir / "environment.json").read_text())["numerics"]
    assert env["cpu_model"] and env["torch_cpu_capability"] in ("DEFAULT", "AVX2", "AVX512", "NO AVX", "ZVECTOR")
    assert isinstance(env["cpu_isa"], list) and env["torch_threads"] >= 1 and env["parallel_backend"]
    assert "onednn" in env["libraries"] or "mkl" in env["libraries"] or env["libraries"]
    assert env["deterministic_algorithms"] is False and "cuda" not in env  # a CPU run
