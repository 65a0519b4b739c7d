"""The suite says at its start when the disk is too full for it (``conftest.low_disk_line``).

A CI run failed three end-to-end tests minutes in with ``No space left on device``: the
machine's temporary folder was full of earlier clones. The line names the folder, what is free,
what the suite needs and what to do."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SUITE_PEAK_DISK, low_disk_line

ROOT = Path(__file__).resolve().parents[1]


def test_low_disk_line_names_the_folder_the_free_space_and_what_to_do():
    assert low_disk_line(Path("/scratch"), free=SUITE_PEAK_DISK) is None
    line = low_disk_line(Path("/scratch"), free=SUITE_PEAK_DISK // 4)
    assert line is not None and line.count("\n") == 0
    assert "/scratch" in line and "0.5 GB free" in line and "2 GB" in line and "free some space" in line


def _session_start(tmp_path: Path, *opts: str) -> str:
    """The output of a one-test pytest session run with ``opts``."""
    test = f"{Path(__file__)}::test_low_disk_line_names_the_folder_the_free_space_and_what_to_do"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "--basetemp", str(tmp_path / "bt"), *opts, test]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed" in res.stdout
    return res.stdout


def test_the_session_starts_with_the_line_only_when_the_disk_is_short(tmp_path):
    assert shutil.disk_usage(tmp_path).free >= SUITE_PEAK_DISK  # else this machine could not run the suite
    assert "disk: only" not in _session_start(tmp_path)
    short = _session_start(tmp_path, "-o", "suite_peak_disk_gb=1000000")  # as if the suite needed a petabyte
    assert "disk: only" in short and f"GB free in {tmp_path}," in short and "free some space" in short
