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
    out = subprocess.run(
        ["bash", "scripts/setup.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert "MB free on the disk holding" in out.stderr
    assert "TBE_SETUP_NEED_GB=0" in out.stderr
    assert not (tmp_path / ".venv").exists()  # nothing was half-installed


def test_the_package_declares_a_torch_range_and_the_lock_pins_it() -> None:
    """`pip install -e .` must not replace a cluster's own torch (a range in the metadata), while
    set-up and CI install exactly the tested build (pins in requirements.lock), and set-up never
    lets pip resolve torch from the package's range (--no-deps)."""
    import re

    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_dep = next(d for d in deps if re.match(r"torch\b", d) and not d.startswith("torchvision"))
    assert "==" not in torch_dep and ">=" in torch_dep, torch_dep
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    assert "torch==2.14.1" in lock and "torchvision==0.29.1" in lock
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "pip install -q -r requirements.lock" in setup and "--no-deps -e ." in setup
