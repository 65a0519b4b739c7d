"""Shared fixtures: a smoke-size embedded benchmark, generated once per test session."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("TBE_PROGRESS", "log")


@pytest.fixture(scope="session")
def smoke_bench(tmp_path_factory):
    """The embedded benchmark at its ``smoke`` size (16 videos per split, 16 frames, 32x32)."""
    from tbe_lib.data.synth import config_for, generate

    out = tmp_path_factory.mktemp("synth_smoke")
    generate(out, config_for("smoke"), workers=1, progress=False)
    return out
