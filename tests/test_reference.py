"""Reproduction you can check: a build's table against the reference table of its profile,
cell by cell, with tolerances from the seed-to-seed spread (tbe_lib.experiment.reference)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from tbe_lib.experiment.reference import (
    Cell,
    check_reproduction,
    environment_differences,
    load_reference,
    reference_path,
    summary_csv_cells,
    write_reference,
)

ROOT = Path(__file__).resolve().parents[1]


def _cells(shift: float = 0.0, *, drop: str | None = None, extra: str | None = None) -> list[Cell]:
    cells = [
        Cell("static", "moco", "probe test_shift", 13.9 + shift, 0.8, 3),
        Cell("static", "be", "probe test_shift", 15.8, 2.0, 3),
        Cell("static", "moco", "R@1 test_shift", 13.9, 1.2, 3),
        Cell("jitter", "moco", "probe test_shift", 15.5, math.nan, 1),  # one seed: the column's spread
    ]
    cells = [c for c in cells if c.row != drop]
    if extra:
        cells.append(Cell("static", extra, "probe test_shift", 20.0, 1.0, 3))
    return cells


def test_identical_within_and_beyond_tolerance():
    ref = _cells()
    same = check_reproduction(_cells(), ref)
    assert same.count("identical") == 4 and same.ok
    assert "digit for digit" in " ".join(same.sentences())
    within = check_reproduction(_cells(shift=1.5), ref)  # moco's tolerance: max(1, 2 x 0.8) = 1.6
    assert [c.status for c in within.cells][0] == "within" and within.ok
    assert "largest drift within tolerance is +1.5 points" in " ".join(within.sentences())
    beyond = check_reproduction(_cells(shift=2.0), ref)
    (moved,) = beyond.moved()
    assert moved.row == "moco" and abs(moved.delta - 2.0) < 1e-9 and moved.tolerance == 1.6
    assert not beyond.ok and "**Moved:** moco, probe test_shift (static) is 15.9 against 13.9" in " ".join(
        beyond.sentences()
    )


def test_single_seed_cells_take_the_columns_spread_and_non_headline_moves_do_not_fail():
    ref = _cells()
    jitter = next(c for c in check_reproduction(_cells(), ref).cells if c.condition == "jitter")
    assert jitter.tolerance == 2 * 1.4  # the median of the column's stds (0.8, 2.0)
    r1 = [Cell(c.condition, c.row, c.column, c.mean + (5 if c.column.startswith("R@1") else 0), c.std, c.seeds)
          for c in ref]  # fmt: skip
    report = check_reproduction(r1, ref)
    assert len(report.moved()) == 1 and report.ok  # R@1 is not a headline column


def test_missing_cells_and_another_set_of_rows():
    report = check_reproduction(_cells(drop="be", extra="fame"), _cells())
    statuses = {(c.row, c.status) for c in report.cells}
    assert ("be", "missing") in statuses and ("fame", "new") in statuses
    assert not report.ok  # a headline cell of the reference is missing
    text = " ".join(report.sentences())
    assert "1 are missing from this build" in text and "1 cells are new" in text


def test_environment_differences_name_what_could_explain_a_drift():
    a = {"torch": "2.14.1", "started": "then", "numerics": {"cpu_model": "AMD EPYC", "cpu_isa": ["avx2", "avx512f"]}}
    b = {"torch": "2.14.1", "started": "now", "numerics": {"cpu_model": "Intel Xeon", "cpu_isa": ["avx2"]}}
    diff = environment_differences(a, b)
    assert diff == ["cpu_isa: ['avx2', 'avx512f'] → ['avx2']", "cpu_model: AMD EPYC → Intel Xeon"]
    report = check_reproduction(_cells(shift=0.5), _cells(), b, a)
    assert "The environments differ in: cpu_isa" in " ".join(report.sentences())
    a["data"], b["data"] = {"static": "synth v3 1111"}, {"static": "synth v5 2222"}  # another benchmark
    assert "data.static: synth v3 1111 → synth v5 2222" in environment_differences(a, b)


def test_the_cpu_reference_is_the_committed_table():
    cells, env = load_reference(reference_path("cpu", ROOT))
    assert env["numerics"]["cpu_model"] and env["torch"]
    committed = summary_csv_cells(ROOT / "bench" / "results" / "book_cpu_summary.csv")
    report = check_reproduction(committed, cells)
    assert report.count("identical") == len(cells) == len(committed) > 0 and report.ok


def test_reproduce_check_exits_4_when_a_headline_cell_moved(tmp_path, capsys):
    from tbe_lib.book import _check

    out = tmp_path / "runs" / "book" / "smoke" / "compare"
    out.mkdir(parents=True)
    header = "condition,row,model,seeds,probe test_shift,R@1 test_shift\n"
    (out / "summary.csv").write_text(header + "static,moco,MoCo,3,13.9 ± 0.8,13.9 ± 1.2\n")
    args = argparse.Namespace(root=str(tmp_path), profile="smoke", set=[], data=None, write_reference=True,
                              check=False)  # fmt: skip
    assert _check(args) == 0 and reference_path("smoke", tmp_path).is_file()
    args.write_reference, args.check = False, True
    assert _check(args) == 0
    (out / "summary.csv").write_text(header + "static,moco,MoCo,3,17.9 ± 0.8,13.9 ± 1.2\n")
    assert _check(args) == 4
    assert "Moved:** moco, probe test_shift (static) is 17.9 against 13.9" in capsys.readouterr().out


def test_the_same_machine_and_software_give_the_same_numbers(tmp_path, smoke_bench):
    """What makes a reference checkable at all: two runs of one configuration are bit-identical."""
    from test_pretrain import make_cfg

    from tbe_lib.pretrain import pretrain
    from tbe_lib.utils import safe_load

    a = pretrain(make_cfg(tmp_path / "a", smoke_bench, "be", steps=3))
    b = pretrain(make_cfg(tmp_path / "b", smoke_bench, "be", steps=3))
    ea, eb = safe_load(a.run_dir / "encoder.pt")["state_dict"], safe_load(b.run_dir / "encoder.pt")["state_dict"]
    assert all(torch.equal(ea[k], eb[k]) for k in ea)
    ref = tmp_path / "ref.json"
    write_reference(ref, "x", [Cell("c", "r", "probe test_shift", 1.0, 0.1, 3)], {"torch": "t"}, {"command": "test"})
    assert json.loads(ref.read_text())["cells"][0]["row"] == "r"


def test_build_only_with_check_or_write_reference_checks_the_existing_build(monkeypatch):
    """`tbe reproduce --build-only --check` (the README's way to check a finished build) runs the
    check after the site build instead of returning right away."""
    import tbe_lib.book as book
    import tbe_lib.book.runner as runner

    calls = []
    monkeypatch.setattr(runner, "build_site", lambda *a, **k: calls.append("build"))
    monkeypatch.setattr(book, "_check", lambda args: calls.append("check") or 4)
    p = argparse.ArgumentParser()
    book.add_cli(p.add_subparsers(dest="command"))
    for flags, want in ((["--check"], 4), (["--write-reference"], 4), ([], 0)):
        calls.clear()
        args = p.parse_args(["reproduce", "--build-only", *flags])
        assert args.func(args) == want
        assert calls == (["build", "check"] if flags else ["build"])
