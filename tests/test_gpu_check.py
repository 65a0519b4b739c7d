"""`make gpu-check` runs here too, at toy sizes on the CPU (``--quick``), so that the
script a lent GPU session depends on cannot break unseen: every step runs and the table
(Markdown and JSON) is written. (``--compile`` is skipped: inductor's C++ build takes
minutes on 2 cores; its fallback is tested in ``test_engine.py``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_in_quick_mode(tmp_path):
    out = tmp_path / "table"
    cmd = [
        "bash",
        str(ROOT / "scripts" / "gpu_check.sh"),
        "--quick",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--skip",
        "tests",
        "compile",
        "--out",
        str(out),
        "--work",
        str(tmp_path / "work"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    rows = {r["check"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    md = out.with_suffix(".md").read_text()
    assert md.startswith("| check | result | target | status | s |")
    names = " ".join(rows)
    for part in (
        "machine",
        "BE bench",
        "step bench",
        "embedded benchmark",
        "pretrain, stop at 2, resume to 4",
        "finetune",
        "retrieve",
        "end-to-end",
        "DDP",
        "total",
    ):
        assert part in names, f"no row for {part!r}: {list(rows)}"
    resume = next(r for k, r in rows.items() if "resume to" in k)
    # On the CPU the resumed run is the uninterrupted one, bit for bit.
    assert resume["ok"] is True and resume["data"]["resume_vs_full"] == 0.0, resume
    assert all(r["ok"] is not False for r in rows.values()), [r for r in rows.values() if r["ok"] is False]
