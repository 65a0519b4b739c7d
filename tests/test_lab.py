"""The explore notebook in a real JupyterLab (scripts/check_lab.py): all cells run, the viewer
renders as widgets and its frame slider changes the images. Needs Chromium: skipped without."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_lab", ROOT / "scripts" / "check_lab.py")
check_lab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_lab)

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="no chromium (Debian: apt-get install -y chromium): JupyterLab not driven"
)


@needs_chromium
def test_the_explore_notebook_runs_in_jupyterlab_and_its_viewer_responds(tmp_path, capsys):
    # A project folder of its own: the notebook generates the smoke benchmark and trains its
    # two tiny encoders there (nothing of the book's runs is needed).
    rc = check_lab.main(
        [str(ROOT / "notebooks" / "explore.ipynb"), "--project-root", str(tmp_path / "project"), "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert (tmp_path / "project" / "runs" / "explore").is_dir(), out  # it trained its own encoders
    assert (tmp_path / "lab_explore.png").stat().st_size > 10_000


def test_without_chromium_the_check_says_so_and_require_makes_it_an_error(tmp_path, capsys):
    missing = str(tmp_path / "no-such-chromium")
    assert check_lab.main(["--chromium", missing]) == 0
    assert "chromium not found" in capsys.readouterr().out
    assert check_lab.main(["--chromium", missing, "--require"]) == 1
