#!/usr/bin/env bash
# The one-command GPU check (`make gpu-check`): see scripts/gpu_check.py and the README's "GPU check".
# Runs with the project's .venv when there is one, else with the machine's own python and torch
# (a GPU machine with no network: no `make setup` there). PyAV, or any other package the machine
# lacks, comes as wheels in .whl/ (made on a machine with network, see the README) and is
# installed into .site/ here, never over the machine's own packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c "import av" 2>/dev/null; then
    echo "[gpu-check] installing $(ls .whl/*.whl | wc -l) wheel(s) from .whl/ into .site/"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target .site .whl/*.whl
    export PYTHONPATH="$PWD/.site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
