"""Shared fixtures: a smoke-size embedded benchmark, generated once per test session.

Threads: each pytest-xdist worker takes its share of the CPUs (``make test`` runs two on a
2-core CI machine). Two workers each running torch's default of one thread per core make
OpenMP threads wait on each other: a comparison test took 4x longer beside another than alone
(246 s against 60 s). The share is set in :func:`pytest_configure`, where a worker first knows
the number of workers, for torch, for numpy's BLAS, and through ``OMP_NUM_THREADS`` for the
subprocesses (notebook kernels, ``torchrun``)."""

from __future__ import annotations

import os

import matplotlib
import pytest
import torch
from threadpoolctl import threadpool_limits

from tbe_lib.utils import usable_cpus

matplotlib.use("Agg")
os.environ.setdefault("TBE_PROGRESS", "log")


def pytest_configure(config: pytest.Config) -> None:
    workers = getattr(config, "workerinput", {}).get("workercount")  # set in xdist's workers only
    if workers is None:
        return  # one process: torch's defaults
    threads = max(1, usable_cpus() // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    threadpool_limits(threads)


@pytest.fixture(scope="session")
def smoke_bench(tmp_path_factory):
    """The embedded benchmark at its ``smoke`` size (16 videos per split, 16 frames, 32x32)."""
    from tbe_lib.data.synth import config_for, generate

    out = tmp_path_factory.mktemp("synth_smoke")
    generate(out, config_for("smoke"), workers=1, progress=False)
    return out
