"""Progress that fits where it runs, and TensorBoard scalars beside ``metrics.jsonl``.

* The display mode is a pure function of the setting, ``$TBE_PROGRESS``, the TTY and the
  Jupyter kernel: a widget in a kernel, a bar in a terminal, plain lines elsewhere.
* Plain mode prints lines without a carriage return; in a notebook the per-interval lines go
  only to ``train.log`` and the page gets one summary line.
* A run writes ``RUN/tb/`` events whose scalars (loss, lr, accuracy, clips/s) read back at the
  logged steps; a resumed run appends and hides what the interrupted one logged after its
  checkpoint; ``tensorboard=False`` (or no tensorboard package) writes no ``tb`` folder.
"""

from __future__ import annotations

import argparse
import sys
import types
import warnings

import pytest
import torch
from test_pretrain import make_cfg

from tbe_lib.pretrain import add_cli, config_from_args, pretrain
from tbe_lib.train import LoopConfig, RunDir, Trainer, read_metrics
from tbe_lib.train.progress import Progress, choose_mode, in_jupyter_kernel
from tbe_lib.train.tb import ScalarLog

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# ------------------------------------------------------------------------------ the mode
@pytest.mark.parametrize(
    "setting, env, isatty, in_kernel, expected",
    [
        ("auto", {}, True, False, "bar"),  # an interactive terminal
        ("auto", {}, False, False, "plain"),  # a file, a pipe
        ("auto", {}, False, True, "notebook"),  # a Jupyter kernel (its stderr is no TTY)
        ("auto", {"CI": "true"}, True, False, "plain"),
        ("auto", {"PAPERMILL_EXECUTION": "1"}, False, True, "summary"),  # tbe reproduce: pages show results, not logs
        ("auto", {"TBE_PROGRESS": "plain"}, True, True, "plain"),
        ("auto", {"TBE_PROGRESS": "log"}, True, False, "plain"),
        ("auto", {"TBE_PROGRESS": "off"}, True, True, "off"),
        ("auto", {"TBE_PROGRESS": "bar"}, False, False, "bar"),  # forced into a log file
        ("auto", {"TBE_PROGRESS": "bar", "CI": "1"}, False, True, "notebook"),
        ("auto", {"TBE_PROGRESS": " Plain "}, True, False, "plain"),
        ("auto", {"TBE_PROGRESS": ""}, True, False, "bar"),
        ("bar", {"TBE_PROGRESS": "off"}, False, False, "bar"),  # an explicit setting wins
        ("bar", {}, False, True, "notebook"),
        ("log", {}, True, False, "plain"),
        ("plain", {}, True, True, "plain"),
        ("off", {"TBE_PROGRESS": "bar"}, True, True, "off"),
    ],
)
def test_the_mode_follows_the_setting_the_environment_and_the_terminal(setting, env, isatty, in_kernel, expected):
    assert choose_mode(setting, env=env, isatty=isatty, in_kernel=in_kernel) == expected


def test_an_unknown_setting_or_environment_value_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"\$TBE_PROGRESS must be one of .*'bars'"):
        choose_mode("auto", env={"TBE_PROGRESS": "bars"}, isatty=True, in_kernel=False)
    with pytest.raises(ValueError, match="progress must be one of .*'widget'"):
        choose_mode("widget", env={}, isatty=True, in_kernel=False)
    with pytest.raises(ValueError, match="loop: progress must be one of"):
        LoopConfig(progress="bars")


def test_a_jupyter_kernel_is_recognised_by_its_shell(monkeypatch):
    assert not in_jupyter_kernel()  # pytest is no kernel (even with IPython imported)
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert in_jupyter_kernel()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not in_jupyter_kernel()  # IPython imported, no shell (a script)
    terminal = types.SimpleNamespace()  # the IPython terminal: a shell without a kernel
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: terminal))
    assert not in_jupyter_kernel()


# ------------------------------------------------------------------------------ the display
_REC = {"step": 10, "loss": 4.25, "p_pos": 0.5, "acc": 0.25, "lr": 0.1, "clips_per_s": 12.0, "time": 1.0}


def test_in_a_notebook_the_lines_go_to_the_log_file_and_the_page_gets_one_summary(tmp_path, capsys):
    log = tmp_path / "train.log"
    p = Progress("notebook", desc="pretrain be", total=20, initial=0, log_file=log)
    p.log(_REC)
    p.advance(10)
    p.log({**_REC, "step": 20, "loss": 3.5})
    p.advance(10)
    p.close(20)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "step 10/20" not in out  # no per-interval lines on the page
    assert out.startswith("[pretrain be] done at step 20/20: 20 steps in ") and "loss 3.5" in out
    assert str(log) in out  # where the lines went
    lines = log.read_text().splitlines()
    assert lines[0].startswith("[pretrain be] starting of 20")
    assert lines[1].startswith("[pretrain be] step 10/20 loss 4.2500 p_pos 0.500 12.0 clips/s eta ")
    assert lines[2].startswith("[pretrain be] step 20/20 loss 3.5000") and lines[3] == out.split(" (log: ")[0]


def test_plain_mode_prints_each_line_without_a_carriage_return(tmp_path, capfd):
    p = Progress("plain", desc="finetune", total=20, initial=10, log_file=tmp_path / "train.log")
    p.log({**_REC, "step": 20})
    p.advance()
    p.close(20)
    out, err = capfd.readouterr()
    assert "\r" not in out + err and err == ""
    assert out.splitlines()[0].startswith("[finetune] step 20/20 loss 4.2500") and "eta 0s" in out
    assert out.splitlines()[1].startswith("[finetune] done at step 20/20: 10 steps in ")
    assert (tmp_path / "train.log").read_text().startswith("[finetune] resuming at step 10 of 20")


def test_off_shows_nothing_and_a_failed_run_gets_no_summary(tmp_path, capfd):
    p = Progress("off", desc="x", total=5, initial=0, log_file=tmp_path / "train.log")
    p.log({**_REC, "step": 5})
    p.close(5)
    q = Progress("plain", desc="y", total=5, initial=0, log_file=None)
    q.close()  # e.g. a diverged run: the bar ends, no summary
    assert capfd.readouterr() == ("", "")
    assert "[x] done at step 5/5" in (tmp_path / "train.log").read_text()


# ------------------------------------------------------------------------------ a run
def test_a_tiny_pretraining_run_writes_tensorboard_scalars_and_plain_lines(tmp_path, smoke_bench, capfd):
    """Four BE steps, logged every step: the events read back as train/<key> at steps 1-4 with
    the values of metrics.jsonl; the plain output has no carriage return."""
    cfg = make_cfg(tmp_path / "be", smoke_bench, "be", steps=4, loop_kw={"progress": "plain"})
    assert cfg.loop.tensorboard  # on by default
    res = pretrain(cfg)
    out, err = capfd.readouterr()
    assert "\r" not in out + err
    lines = [ln for ln in out.splitlines() if ln.startswith("[pretrain be]")]
    assert [ln.split()[3] for ln in lines[:4]] == ["1/4", "2/4", "3/4", "4/4"]
    assert lines[4].startswith("[pretrain be] done at step 4/4: 4 steps in ")

    rows = read_metrics(res.run_dir)
    tb = _scalars(res.run_dir / "tb")
    assert {"train/loss", "train/lr", "train/acc", "train/p_pos", "train/clips_per_s"} <= set(tb)
    assert not {"train/step", "train/time"} & set(tb)
    for key in ("loss", "lr", "acc", "clips_per_s"):
        assert [s for s, _ in tb[f"train/{key}"]] == [1, 2, 3, 4]
        assert [v for _, v in tb[f"train/{key}"]] == pytest.approx([r[key] for r in rows], rel=1e-6)
    log = (res.run_dir / "train.log").read_text().splitlines()
    assert log[1:] == lines  # the screen's lines, kept in the run directory


def _trainer(run_dir, *, tensorboard: bool = True, steps: int = 4) -> Trainer:
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    cfg = LoopConfig(steps=steps, log_every=1, checkpoint_every=2, amp="off", progress="off", tensorboard=tensorboard)
    return Trainer(module, opt, None, RunDir(run_dir), cfg, device=torch.device("cpu"), meta={"task": "test"})


def _batches(start):
    g = torch.Generator().manual_seed(start)
    while True:
        yield torch.randn(8, 4, generator=g)


def _step(model, x, step):
    return model(x).pow(2).mean(), {"train_acc": torch.tensor(0.5)}, x.shape[0]


def test_a_resumed_run_appends_and_hides_what_was_logged_after_its_checkpoint(tmp_path):
    """Killed after logging step 3 (checkpoint at 2): the resumed run adds an events file, and
    step 3 reads back once, with the resumed run's value (as in metrics.jsonl)."""

    def crash(step):
        if step == 3:
            raise KeyboardInterrupt

    first = _trainer(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        first.fit(_batches, _step, callback=crash)
    first.run.release()
    assert [s for s, _ in _scalars(tmp_path / "r" / "tb")["train/loss"]] == [1, 2, 3]

    again = _trainer(tmp_path / "r")
    assert again.resume() == 2

    def evaluate(step):
        again.log({"step": step, "epoch": 1, "val_top1": 0.75}, group="eval")

    again.fit(_batches, _step, callback=lambda s: evaluate(s) if s == 4 else None)
    assert len(list((tmp_path / "r" / "tb").glob("events.out.tfevents.*"))) == 2
    tb = _scalars(tmp_path / "r" / "tb")
    rows = [r for r in read_metrics(tmp_path / "r") if "loss" in r]
    assert [s for s, _ in tb["train/loss"]] == [r["step"] for r in rows] == [1, 2, 3, 4]
    assert [v for _, v in tb["train/loss"]] == pytest.approx([r["loss"] for r in rows], rel=1e-6)
    assert [s for s, _ in tb["train/train_acc"]] == [1, 2, 3, 4]
    assert tb["eval/val_top1"] == [(4, 0.75)] and "eval/epoch" not in tb


def test_tensorboard_off_writes_no_tb_folder(tmp_path):
    t = _trainer(tmp_path / "off", tensorboard=False)
    t.fit(_batches, _step)
    assert not (tmp_path / "off" / "tb").exists() and len(read_metrics(tmp_path / "off")) == 4


def test_without_the_tensorboard_package_the_run_goes_on_silently(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not ScalarLog(tmp_path / "tb").active
        t = _trainer(tmp_path / "run")
        t.fit(_batches, _step)
    assert not (tmp_path / "tb").exists() and not (tmp_path / "run" / "tb").exists()
    assert len(read_metrics(tmp_path / "run")) == 4


def test_the_command_line_turns_tensorboard_off():
    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    assert config_from_args(p.parse_args(["pretrain"])).loop.tensorboard
    off = config_from_args(p.parse_args(["pretrain", "--no-tensorboard", "--progress", "plain"])).loop
    assert not off.tensorboard and off.progress == "plain"
