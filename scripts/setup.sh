#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the pinned stack.
# Idempotent: a second run with an unchanged requirements.lock/pyproject.toml does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=.venv
stamp="$VENV/.tbe-installed"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c "import tbe_lib, torch" 2>/dev/null; then
    echo "[setup] .venv is up to date ($want)"
    exit 0
fi
ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$ver" != "3.11" ]; then
    echo "[setup] warning: tested with Python 3.11, found $ver ($PYTHON); set PYTHON=/path/to/python3.11" >&2
fi
# The pinned torch is the CUDA build (its nvidia-* wheels included): about 6.5 GB in .venv.
# Say so before pip fails half-way with "No space left on device".
need_gb=${TBE_SETUP_NEED_GB:-7}
# (Not when .venv already holds torch: updating it needs little more.)
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((need_gb * 1024 * 1024)) ] \
        && ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "[setup] error: only $((free_kb / 1024)) MB free on the disk holding $(pwd)," >&2
    echo "[setup]        the pinned environment needs about ${need_gb} GB in $VENV (torch 2.14.1 with its CUDA libraries)." >&2
    echo "[setup]        Free some space (old clones, .venv copies, /tmp/pytest-of-\$USER) and run again;" >&2
    echo "[setup]        TBE_SETUP_NEED_GB=0 skips this check." >&2
    exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
echo "[setup] installing the pinned environment (requirements.lock) into $VENV ..."
"$VENV/bin/python" -m pip install -q --upgrade pip
# The lock pins torch==2.14.1 / torchvision==0.29.1 and every other package exactly.
"$VENV/bin/python" -m pip install -q -r requirements.lock
"$VENV/bin/python" -m pip install -q --no-deps -e .
"$VENV/bin/python" -c "import torch, torchvision, av, tbe_lib; print('[setup] torch', torch.__version__, '| torchvision', torchvision.__version__, '| av', av.__version__)"
echo "$want" > "$stamp"
