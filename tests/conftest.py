"""Shared fixtures: a smoke-size embedded benchmark, generated once per test session.

Threads: each pytest-xdist worker takes its share of the CPUs (``make test`` runs two on a
2-core CI machine). Two workers each running torch's default of one thread per core make
OpenMP threads wait on each other: a comparison test took 4x longer beside another than alone
(246 s against 60 s). The share is set in :func:`pytest_configure`, where a worker first knows
the number of workers, for torch, for numpy's BLAS, and through ``OMP_NUM_THREADS`` for the
subprocesses (notebook kernels, ``torchrun``).

Disk: the book tests write notebooks, checkpoints and videos; at its peak the suite holds about
2 GB in its temporary folder (measured on a fresh clone, beside the 6.8 GB of ``.venv``). A full
disk fails three end-to-end tests minutes in, so the session starts with one line when there is
less than that free (:func:`low_disk_line`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import matplotlib
import pytest
import torch
from threadpoolctl import threadpool_limits

from tbe_lib.utils import usable_cpus

matplotlib.use("Agg")
os.environ.setdefault("TBE_PROGRESS", "log")

SUITE_PEAK_DISK = 2 * 10**9  # bytes the suite holds at once in its temporary folder (fresh clone, -n 2)


def low_disk_line(where: Path, free: int, need: int = SUITE_PEAK_DISK) -> str | None:
    """The line to start a session with when ``free`` bytes at ``where`` are fewer than ``need``."""
    if free >= need:
        return None
    return (
        f"disk: only {free / 1e9:.1f} GB free in {where}, and the tests write up to {need / 1e9:.0f} GB there: "
        "free some space (old pytest-of-* or clone folders) or set TMPDIR to a larger disk, or the book tests fail"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "suite_peak_disk_gb", "GB the suite holds at once in its temporary folder", default=str(SUITE_PEAK_DISK / 1e9)
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # the controller says it once
    base = session.config.option.basetemp
    where = Path(base).parent if base else Path(tempfile.gettempdir())
    need = int(float(session.config.getini("suite_peak_disk_gb")) * 1e9)
    line = low_disk_line(where, shutil.disk_usage(where).free, need)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter is not None:
        reporter.write_line(line, yellow=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config, "workerinput", {}).get("workercount")  # set in xdist's workers only
    if workers is None:
        return  # one process: torch's defaults
    threads = max(1, usable_cpus() // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    threadpool_limits(threads)


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def book_project(tmp_path: Path) -> Path:
    """A project folder of the book in ``tmp_path / "project"``: the notebooks, scripts, bench,
    Jupyter Book configuration and static pages copied, ``tbe_lib`` linked (the marker the
    notebooks find the project root by). Book tests run ``tbe reproduce --root`` on it, so their
    runs never land in the checkout's ``runs/`` (where they would move a user's runs aside)."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("notebooks", "scripts", "bench"):
        shutil.copytree(REPO / name, root / name)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    (root / "book").mkdir()
    for page in (REPO / "book").glob("*.md"):
        if not page.name[:2].isdigit():  # static pages only; chapters come from the notebooks
            shutil.copy(page, root / "book" / page.name)
    (root / "tbe_lib").symlink_to(REPO / "tbe_lib")
    return root


@pytest.fixture(scope="session")
def smoke_bench(tmp_path_factory):
    """The embedded benchmark at its ``smoke`` size (16 videos per split, 16 frames, 32x32)."""
    from tbe_lib.data.synth import config_for, generate

    out = tmp_path_factory.mktemp("synth_smoke")
    generate(out, config_for("smoke"), workers=1, progress=False)
    return out
