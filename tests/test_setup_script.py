"""scripts/setup.sh refuses early, with a clear message, when the disk cannot hold the environment."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_setup_reports_a_full_disk_before_installing(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    for name in ("requirements.lock", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = dict(os.environ, TBE_SETUP_NEED_GB=str(10**9))  # more than any disk has
    out = subprocess.run(["bash", "scripts/setup.sh"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "MB free on the disk holding" in out.stderr
    assert "TBE_SETUP_NEED_GB=0" in out.stderr
    assert not (tmp_path / ".venv").exists()  # nothing was half-installed
