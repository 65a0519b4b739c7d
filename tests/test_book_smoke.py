"""The whole book under the smoke profile, end to end: every notebook executes, the site builds,
every page passes the reader's check, and the results table exists and holds numbers."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tbe_lib.book import add_cli
from tbe_lib.book.registry import STAGES
from tbe_lib.experiment import ROWS


@pytest.mark.slow
def test_smoke_book_end_to_end(tmp_path: Path, book_project: Path) -> None:
    root = book_project

    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    args = p.parse_args(["reproduce", "--profile", "smoke", "--root", str(root), "--quiet"])
    assert args.func(args) == 0

    book = root / "book"
    for stage in STAGES:
        assert (book / f"{stage.name}.ipynb").is_file(), f"{stage.name} was not executed"
        assert not (book / f"{stage.name}.md").exists(), f"{stage.name} is still a placeholder"
    html = book / "_build" / "html"
    assert (html / "index.html").is_file() and (html / "book" / "07_results.html").is_file()

    # The results table holds numbers for every model of the comparison.
    table = pd.read_csv(root / "runs" / "book" / "smoke" / "compare" / "table.csv")
    assert set(table.row) == set(ROWS)
    for col in ("finetune_test_shift", "probe_test_shift", "background_probe", "R@1_test_shift", "actor_mass_ratio"):
        assert table[col].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(), col
    # Parameters reach the code: the profile's settings are in the runs' configs.
    cfg = (
        root / "runs" / "book" / "smoke" / "compare" / "static" / "seed0" / "pretrain_be" / "config.json"
    ).read_text()
    assert '"steps": 4' in cfg and '"batch_size": 8' in cfg

    # Every page renders with its figures and no error cells; where chromium is installed, in a
    # browser at the narrower of the book's widths (the stricter for tables and figures).
    out = subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "check_site.py"),
            "--html",
            str(html),
            "--book",
            str(book),
            "--out",
            str(tmp_path / "shots"),
            "--widths",
            "1024",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # The glued numbers of chapter 7 are in the page, not typed by hand.
    assert "static_be_finetune_test_shift" not in (html / "book" / "07_results.html").read_text()  # resolved, not raw
    # Chapter 7 finds chapter 2's motion check (same benchmark, same clips) and sets the ceiling against it.
    page = (html / "book" / "07_results.html").read_text()
    assert "Chapter 2 trains the ceiling" in page and "recipe for 1 epoch:" in page
