"""Pretraining: every method learns, resume is bit-for-bit, DDP replicas agree, bad input is refused."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tbe_lib.config import DataConfig, OptimConfig
from tbe_lib.methods import MethodConfig
from tbe_lib.pretrain import PretrainConfig, pretrain
from tbe_lib.train import IncompatibleCheckpoint, LoopConfig, TrainingDiverged, read_metrics
from tbe_lib.utils import safe_load

TINY = {"widths": (8, 16), "blocks": (1, 1), "stem_stride": (1, 2, 2)}


def make_cfg(run_dir, data, method="be", steps=6, **kw) -> PretrainConfig:
    mcfg = dict(method=method, queue_size=4096, bn_groups=2)
    mcfg.update(kw.pop("method_kw", {}))
    loop = dict(steps=steps, log_every=1, checkpoint_every=0, seed=0, progress="off")
    loop.update(kw.pop("loop_kw", {}))
    return PretrainConfig(
        run_dir=str(run_dir),
        backbone="r3d_tiny",
        backbone_kwargs=dict(TINY),
        batch_size=8,
        device="cpu",
        data=DataConfig(
            source=str(data),
            frames=4,
            stride=2,
            size=32,
            workers=0,
            cache=True,
            crop_scale=(0.6, 1.0),
            jitter=None,
            gray_p=0.0,
        ),
        method=MethodConfig(**mcfg),
        optim=OptimConfig(lr=kw.pop("lr", 0.05), schedule="constant"),
        loop=LoopConfig(**loop),
        **kw,
    )


@pytest.mark.parametrize("method, lr", [("moco", 0.03), ("be", 0.03), ("be_triplet", 0.01), ("pretext", 0.01)])
def test_each_method_runs_and_contrastive_losses_go_down(tmp_path, smoke_bench, method, lr):
    """30 steps with a fixed seed on the smoke benchmark (default r3d_tiny, 4 frames of 32x32).
    The queue is one batch long, so MoCo/BE negatives are real keys from the first steps on."""
    cfg = make_cfg(tmp_path / method, smoke_bench, method, steps=30, lr=lr, method_kw={"queue_size": 8})
    cfg.backbone_kwargs = {}
    res = pretrain(cfg)
    rows = read_metrics(res.run_dir)
    assert [r["step"] for r in rows] == list(range(1, 31))
    loss = [r["loss"] for r in rows]
    assert all(torch.isfinite(torch.tensor(loss)))
    assert all(0.0 <= r["p_pos"] <= 1.0 for r in rows)
    if method != "pretext":  # pretext's learning is checked on a fixed batch below
        first, last = sum(loss[:10]) / 10, sum(loss[-10:]) / 10
        assert last < 0.95 * first, f"{method}: loss did not go down: first 10 steps {first:.4f}, last 10 {last:.4f}"
    # The final encoder is a weights-only checkpoint with its architecture.
    enc = safe_load(res.run_dir / "encoder.pt")
    assert enc["arch"]["backbone"] == "r3d_tiny" and enc["method"] == method
    cfg_json = json.loads((res.run_dir / "config.json").read_text())
    assert cfg_json["method"]["method"] == method and cfg_json["loop"]["steps"] == 30
    assert (res.run_dir / "environment.json").exists()


def test_pretext_learns_the_transformation_on_a_fixed_batch(smoke_bench):
    from tbe_lib.augment.video import VideoEval
    from tbe_lib.data.dataset import ClipDataset, ClipSampler
    from tbe_lib.methods import build_method

    torch.manual_seed(0)
    ds = ClipDataset(smoke_bench / "lists" / "pretrain.txt", ClipSampler(frames=4, stride=2))
    x = VideoEval(32, resize=32)(torch.stack([ds[(i, i)].clip for i in range(8)]))
    m = build_method("r3d_tiny", MethodConfig(method="pretext", pretext_task="rotation"))
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    ce = []
    for _ in range(40):
        loss, met = m([x], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ce.append(met["ce"])
    assert sum(ce[-10:]) / 10 < 0.7 * sum(ce[:10]) / 10, ce


def _params(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_resume_with_another_optimizer_is_refused(tmp_path, smoke_bench):
    cfg = make_cfg(tmp_path / "run", smoke_bench, "moco", steps=4, loop_kw={"stop_after": 1, "checkpoint_every": 1})
    pretrain(cfg)
    cfg.loop.stop_after = None
    cfg.optim = OptimConfig(name="adamw", lr=1e-3)
    with pytest.raises(ValueError, match="using SGD, but this run is configured for AdamW"):
        pretrain(cfg, resume=True)


def test_resume_is_bit_for_bit(tmp_path, smoke_bench):
    full = pretrain(make_cfg(tmp_path / "full", smoke_bench, "be", steps=6, method_kw={"extra_negative": True}))
    cfg = make_cfg(
        tmp_path / "split", smoke_bench, "be", steps=6, method_kw={"extra_negative": True}, loop_kw={"stop_after": 3}
    )
    part = pretrain(cfg)
    assert part.step == 3 and not (part.run_dir / "encoder.pt").exists()
    cfg.loop.stop_after = None
    resumed = pretrain(cfg, resume=True)
    assert resumed.step == 6
    a, b = _params(full.method), _params(resumed.method)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    # The metrics of the resumed run continue the first part's, step by step, as the full run's.
    la = [r["loss"] for r in read_metrics(full.run_dir)]
    lb = [r["loss"] for r in read_metrics(resumed.run_dir)]
    assert la == lb


def test_refuses_to_overwrite_and_refuses_incompatible_checkpoints(tmp_path, smoke_bench):
    pretrain(make_cfg(tmp_path / "r", smoke_bench, "be", steps=2))
    with pytest.raises(FileExistsError, match="--resume"):
        pretrain(make_cfg(tmp_path / "r", smoke_bench, "be", steps=4))
    with pytest.raises(IncompatibleCheckpoint, match=r"method='be'.*method='moco'"):
        pretrain(make_cfg(tmp_path / "r", smoke_bench, "moco", steps=4), resume=True)
    other = make_cfg(tmp_path / "r", smoke_bench, "be", steps=4)
    other.backbone_kwargs = {**TINY, "widths": (8, 32)}
    with pytest.raises(IncompatibleCheckpoint, match="arch"):
        pretrain(other, resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, smoke_bench, monkeypatch):
    from tbe_lib import methods

    real = methods.BEMethod.forward
    calls = {"n": 0}

    def poisoned(self, views, generator=None):
        loss, m = real(self, views, generator)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] == 4 else loss), m

    monkeypatch.setattr(methods.BEMethod, "forward", poisoned)
    cfg = make_cfg(tmp_path / "nan", smoke_bench, "be", steps=8, loop_kw={"checkpoint_every": 2})
    with pytest.raises(TrainingDiverged, match="at step 4") as e:
        pretrain(cfg)
    assert "last good checkpoint" in str(e.value)
    ck = safe_load(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert ck["step"] == 2 and all(torch.isfinite(v).all() for v in ck["state_dict"].values() if v.is_floating_point())


def test_empty_or_missing_dataset_is_a_clear_error(tmp_path, smoke_bench):
    empty = tmp_path / "empty.txt"
    empty.write_text("# format: video\n")
    with pytest.raises(ValueError, match="empty"):
        pretrain(make_cfg(tmp_path / "e", empty))
    with pytest.raises(FileNotFoundError, match="tbe data synth"):
        pretrain(make_cfg(tmp_path / "m", tmp_path / "nowhere"))
    small = tmp_path / "small.txt"
    small.write_text("".join(f"{smoke_bench}/videos/pretrain/{i:05d}.mp4 0\n" for i in range(3)))
    with pytest.raises(ValueError, match="fewer than one global batch"):
        pretrain(make_cfg(tmp_path / "s", small))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_processes_under_torchrun_end_with_identical_parameters(tmp_path, smoke_bench):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        "-m",
        "tbe_lib.cli",
        "pretrain",
        "--method",
        "be",
        "--data",
        str(smoke_bench),
        "--run-dir",
        str(run),
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--frames",
        "4",
        "--stride",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--queue-size",
        "64",
        "--log-every",
        "1",
        "--progress",
        "log",
        "--extra-negative",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rep = json.loads((run / "replicas.json").read_text())
    assert rep["world_size"] == 2 and rep["max_abs_diff_sum"] == 0.0
    assert json.loads((run / "environment.json").read_text())["world_size"] == 2
    assert (run / "encoder.pt").exists()
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3]


def test_a_training_step_runs_from_jpeg_frame_folders_too(tmp_path, smoke_bench):
    """The same pipeline on the other list format: frames extracted with `tbe data prepare
    --frames` from the benchmark's videos feed pretraining and finetuning."""
    from tbe_lib.data.listfile import read_list
    from tbe_lib.data.prepare import prepare
    from tbe_lib.finetune import FinetuneConfig, finetune

    res = prepare(
        smoke_bench / "lists" / "pretrain.txt",
        tmp_path / "frames",
        short_side=None,
        frames=True,
        workers=1,
        progress=False,
    )
    vl = read_list(res.list_path)
    assert vl.format == "frames" and len(vl) == 16 and all(r.num_frames == 32 for r in vl.records)
    out = pretrain(make_cfg(tmp_path / "pt", res.list_path, "be", steps=2))
    assert out.step == 2 and (out.run_dir / "encoder.pt").exists()
    ft = finetune(
        FinetuneConfig(
            run_dir=str(tmp_path / "ft"),
            init=str(out.run_dir / "encoder.pt"),
            backbone_kwargs=dict(TINY),
            epochs=1,
            batch_size=8,
            device="cpu",
            data=DataConfig(source=str(res.list_path), frames=4, stride=2, workers=0),
            test_splits=(),
            loop=LoopConfig(checkpoint_every=0, progress="off"),
        )
    )
    assert ft.results == {}  # trained; no test split asked
