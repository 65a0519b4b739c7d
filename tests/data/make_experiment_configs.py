"""Writes tests/data/experiment_configs.json from the current code, with the same functions that
tests/test_experiment.py checks it with. Re-record only on purpose (a change of the book's
experiment), and say in the commit why the configurations changed:

    .venv/bin/python tests/data/make_experiment_configs.py "why"

Not collected by pytest (no test_ prefix)."""

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ["TBE_PROJECT_ROOT"] = "/project"

import test_experiment as T  # noqa: E402

from tbe_lib.book.experiment import experiment  # noqa: E402

why = sys.argv[1] if len(sys.argv) > 1 else "re-recorded"
commit = subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
).stdout.strip()
cases = {f"profile:{p}": T.record(experiment(p), p) for p in ("smoke", "cpu", "full", "paper")}
cases.update({f"cli:{name}": T.record(T.compare_config(argv)) for name, argv in T.CLI_CASES})
out = {
    "_generated": f"recorded on top of commit {commit} ({why}), project root /project, by "
    "tests/data/make_experiment_configs.py. Per case: every unit's config as the SHA-256 (16 hex) of its "
    "canonical JSON (sorted keys, no spaces), and the full JSON of the first unit of each kind, for readable "
    "differences.",
    "cases": cases,
}
(HERE / "experiment_configs.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
print(f"{len(cases)} cases written to {HERE / 'experiment_configs.json'}")
