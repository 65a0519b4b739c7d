"""Every bad input and fault a demanding user tried gets one line (exit code 2) naming the file
or value and what to do, or is handled; nothing is silent. The table of cases, with the test
that proves each, is ``tests/BAD_INPUTS.md``; a test below checks that it lists every test."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tbe_lib.cli import main
from tbe_lib.data.listfile import ListFormatError, read_list
from tbe_lib.utils import safe_load

ROOT = Path(__file__).resolve().parents[1]


def _pretrain_args(data, run, *extra: str) -> list[str]:
    steps = "--steps 2 --batch-size 8 --workers 0 --device cpu --progress off --frames 4 --stride 2 --queue-size 16"
    return ["pretrain", "--data", str(data), "--run-dir", str(run), *steps.split(), *extra]


def _one_line_error(capsys, argv: list[str], *patterns: str) -> str:
    """Run the CLI; it must exit 2 with one line on stderr matching every pattern."""
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tbe ")]
    assert len(err) == 1, err
    for p in patterns:
        assert re.search(p, err[0]), (p, err[0])
    assert "Traceback" not in err[0]
    return err[0]


# ------------------------------------------------------------------------------ silent before


def test_non_finite_weights_never_reach_a_checkpoint(tmp_path, smoke_bench, capsys):
    """--lr 1e9: BatchNorm statistics overflow while the loss may stay finite; the run stops
    naming the tensor, and no encoder.pt / last.pt with inf is written."""
    run = tmp_path / "r"
    _one_line_error(
        capsys,
        _pretrain_args(smoke_bench, run, "--lr", "1e9", "--steps", "6", "--checkpoint-every", "1"),
        r"(holds non-finite values|loss is (nan|inf))",
        r"stopped without writing a checkpoint",
    )
    assert not (run / "encoder.pt").exists()
    if (run / "checkpoints" / "last.pt").exists():  # the last good one: finite everywhere
        state = safe_load(run / "checkpoints" / "last.pt")["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_a_second_run_on_a_busy_run_directory_is_refused(tmp_path, smoke_bench, capsys):
    run = tmp_path / "r"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]);"
            "from tbe_lib.train.rundir import RunDir; RunDir(sys.argv[2]); print('locked', flush=True);"
            "time.sleep(60)",
            str(ROOT),
            str(run),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        _one_line_error(capsys, _pretrain_args(smoke_bench, run), r"is in use by process \d+", r"another --run-dir")
    finally:
        holder.kill()
        holder.wait()
    assert not (run / "config.json").exists()  # the refused run wrote nothing


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tmp_path, smoke_bench):
    from tbe_lib.train.rundir import RunDir

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "started": "then"}))
    (run / "checkpoints" / ".last.pt.abc.tmp").write_bytes(b"x" * 100)  # a write killed half-way
    with pytest.warns(RuntimeWarning, match=f"taking over the lock of process {dead.pid}"):
        rd = RunDir(run)
    assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()
    assert not list((run / "checkpoints").glob("*.tmp"))  # temporary files removed on the next start
    rd.release()
    assert not (run / ".lock").exists()


def test_retrieval_ks_beyond_the_gallery_are_capped_aloud_or_refused(tmp_path, smoke_bench, capsys):
    flags = "--frames 4 --num-clips 1 --workers 0 --device cpu --background-split none --query-splits test_shift"
    common = ["retrieve", "--data", str(smoke_bench), *flags.split()]
    assert main([*common, "--out", str(tmp_path / "a"), "--ks", "1", "5", "50", "100"]) == 0
    err = capsys.readouterr().err
    assert "Recall@k skipped for k = [50, 100]" in err and "16 videos" in err
    res = json.loads((tmp_path / "a" / "retrieval.json").read_text())
    assert res["ks_skipped"] == [50, 100] and list(res["recall"]["test_shift"]) == ["1", "5"]
    _one_line_error(
        capsys,
        [*common, "--out", str(tmp_path / "b"), "--ks", "50", "100"],
        r"every k exceeds the 16 videos",
        r"ks <= 16",
    )


def test_a_list_with_a_byte_order_mark_and_no_header_is_read_right(tmp_path, smoke_bench):
    lines = [f"{smoke_bench}/videos/train/{i:05d}.mp4 {i % 8}" for i in range(16)]
    lst = tmp_path / "bom.txt"
    lst.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    vl = read_list(lst)
    assert vl.records[0].path == lines[0].rsplit(maxsplit=1)[0] and vl.num_classes == 8


# ------------------------------------------------------------------------------ unclear before


@pytest.mark.parametrize("kind", ["empty", "truncated", "not_a_video"])
def test_unreadable_videos_are_named_in_one_line(tmp_path, smoke_bench, capsys, kind):
    bad = tmp_path / "bad.mp4"
    good = smoke_bench / "videos" / "pretrain" / "00000.mp4"
    bad.write_bytes({"empty": b"", "truncated": good.read_bytes()[:3000], "not_a_video": b"hello " * 200}[kind])
    lst = tmp_path / "l.txt"
    lst.write_text(
        "".join(
            f"{bad if i == 0 else smoke_bench / 'videos' / 'pretrain' / f'{i:05d}.mp4'} {i % 8}\n" for i in range(16)
        )
    )
    _one_line_error(capsys, _pretrain_args(lst, tmp_path / "r"), re.escape(str(bad)))


def test_skip_bad_videos_from_the_command_line(tmp_path, smoke_bench, capsys):
    lst = tmp_path / "l.txt"
    (tmp_path / "bad.mp4").write_bytes(b"")
    lst.write_text(
        "".join(f"{smoke_bench / 'videos' / 'pretrain' / f'{i:05d}.mp4'} {i % 8}\n" for i in range(16))
        + f"{tmp_path / 'bad.mp4'} 0\n"
    )
    assert main(_pretrain_args(lst, tmp_path / "r", "--skip-bad-videos", "--skip-limit", "0.1", "--steps", "4")) == 0
    assert (tmp_path / "r" / "encoder.pt").exists()


def test_a_label_outside_the_classes_is_refused_before_training(tmp_path, smoke_bench, capsys):
    train = tmp_path / "train.txt"
    train.write_text("".join(f"{smoke_bench / 'videos' / 'train' / f'{i:05d}.mp4'} {i % 8}\n" for i in range(16)))
    test = tmp_path / "test.txt"
    test.write_text(f"{smoke_bench / 'videos' / 'test_shift' / '00000.mp4'} 9\n")
    args = [
        "finetune",
        "--data",
        "{split}",
        "--train-split",
        str(train),
        "--test-splits",
        str(test),
        "--run-dir",
        str(tmp_path / "ft"),
        *"--epochs 1 --batch-size 8 --workers 0 --device cpu --progress off --frames 4".split(),
    ]
    _one_line_error(capsys, args, re.escape(str(test)), r"label 9 .* outside the 8 classes")
    assert not (tmp_path / "ft" / "checkpoints" / "last.pt").exists()
    header = tmp_path / "header.txt"
    header.write_text(f"# num_classes: 8\n{smoke_bench / 'videos' / 'train' / '00000.mp4'} 11\n")
    with pytest.raises(ListFormatError, match=r"header.txt:2: label 11 .* outside the 8 classes"):
        read_list(header)


def test_an_extra_column_and_a_duplicate_line_are_named(tmp_path):
    extra = tmp_path / "extra.txt"
    extra.write_text("# format: video\na.mp4 3\nb.mp4 16 1\n")
    with pytest.raises(ListFormatError, match=r"extra.txt:3: 'b.mp4 16 1' has 3 columns, but a video list has 2"):
        read_list(extra)
    dup = tmp_path / "dup.txt"
    dup.write_text("a.mp4 0\nb.mp4 1\na.mp4 0\n")
    with pytest.raises(ListFormatError, match=r"dup.txt:3: a.mp4 is listed again \(first on line 1\)"):
        read_list(dup)


def test_an_interrupted_finetuning_resumes(tmp_path, monkeypatch):
    """The comparison (what ``tbe reproduce`` runs) killed after a finetuning run trained and
    checkpointed but before it wrote its results: the next call continues from that checkpoint
    (it used to stop on 'last.pt exists: pass --resume' forever)."""
    import tbe_lib.finetune as ft
    from tbe_lib.experiment import CompareConfig, collect_table, run_comparison

    cfg = CompareConfig(
        out_dir=str(tmp_path / "cmp"),
        data_dir=str(tmp_path / "data"),
        synth_size="smoke",
        conditions={"static": (0,)},
        rows=("random",),
        backbone_kwargs={"widths": (8, 16), "blocks": (1, 1)},
        finetune_epochs=1,
        finetune_batch=8,
        workers=0,
        device="cpu",
        frames=4,
        stride=2,
        test_clips=1,
    )
    real = ft.evaluate_splits

    def killed(*a, **k):
        raise KeyboardInterrupt("killed during evaluation")

    monkeypatch.setattr(ft, "evaluate_splits", killed)
    with pytest.raises(KeyboardInterrupt):
        run_comparison(cfg, stages=("finetune",))
    run = tmp_path / "cmp" / "static" / "seed0" / "finetune_random"
    assert (run / "checkpoints" / "last.pt").exists() and not (run / "results.json").exists()
    monkeypatch.setattr(ft, "evaluate_splits", real)
    run_comparison(cfg, stages=("finetune",))
    assert (run / "results.json").exists()
    assert collect_table(cfg)["finetune_test_shift"].notna().all()


def test_a_malformed_line_and_a_negative_label_are_named(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a.mp4 0\nb.mp4 x\n")
    with pytest.raises(ListFormatError, match=r"bad.txt:2: cannot parse 'b.mp4 x' as a video list line"):
        read_list(bad)
    neg = tmp_path / "neg.txt"
    neg.write_text("a.mp4 -1\n")
    with pytest.raises(ListFormatError, match=r"neg.txt:1: negative label"):
        read_list(neg)


@pytest.mark.parametrize(
    "flag, value, pattern",
    [
        ("--batch-size", "0", r"batch_size must be an integer >= 1, got 0"),
        ("--lr", "nan", r"lr must be a finite number > 0, got nan"),
        ("--lr", "-1", r"lr must be a finite number > 0, got -1"),
        ("--steps", "0", r"steps must be an integer >= 1"),
        ("--frames", "0", r"frames must be an integer >= 1"),
        ("--skip-limit", "2", r"skip_limit must be a finite number >= 0 and <= 1"),
    ],
)
def test_bad_numbers_are_refused_up_front(tmp_path, smoke_bench, capsys, flag, value, pattern):
    _one_line_error(capsys, _pretrain_args(smoke_bench, tmp_path / "r", flag, value), pattern)
    assert not (tmp_path / "r").exists()  # refused before anything was written


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(tmp_path, smoke_bench, capsys):
    args = _pretrain_args(smoke_bench, tmp_path / "r")
    args[args.index("--device") + 1] = "cuda"
    _one_line_error(capsys, args, r"sees no CUDA GPU here; use --device cpu")


def test_a_run_directory_that_is_a_file_or_read_only(tmp_path, smoke_bench, capsys, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    _one_line_error(capsys, _pretrain_args(smoke_bench, f), re.escape(str(f)), r"choose another path")

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    _one_line_error(
        capsys,
        _pretrain_args(smoke_bench, tmp_path / "ro"),
        r"cannot write .*ro.*Read-only file system",
        r"writable --run-dir",
    )


def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(tmp_path, smoke_bench, capsys, monkeypatch):
    import tbe_lib.utils as U

    def full(obj, f, *a, **k):
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0") from OSError(
            errno.ENOSPC, "No space left on device"
        )

    monkeypatch.setattr(U.torch, "save", full)
    run = tmp_path / "r"
    _one_line_error(
        capsys, _pretrain_args(smoke_bench, run), r"no space left on the device writing .*last.pt", r"--resume"
    )
    assert not list(run.rglob("*.tmp"))


def test_debug_shows_the_traceback(tmp_path, smoke_bench):
    with pytest.raises(ValueError, match="batch_size"):
        main(["--debug", *_pretrain_args(smoke_bench, tmp_path / "r", "--batch-size", "0")])


def test_the_table_lists_every_case_and_its_test():
    table = (ROOT / "tests" / "BAD_INPUTS.md").read_text()
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| #") and "---" not in r]
    assert len(rows) >= 37
    outcomes = {r.split("|")[4].strip().split()[0] for r in rows}  # "OK (resumes)" -> "OK"
    assert outcomes <= {"CLEAR", "OK"}, outcomes
    here = {name for name in globals() if name.startswith("test_")}
    for r in rows:
        for test in re.findall(r"`(test_\w+)`", r):
            files = list((ROOT / "tests").glob("test_*.py"))
            assert test in here or any(f"def {test}(" in f.read_text() for f in files), f"{test} named but missing"
