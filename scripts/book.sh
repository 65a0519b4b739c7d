#!/usr/bin/env bash
# Main job: run the book's notebooks with the given profile (tbe reproduce: papermill, cached per
# notebook), build the site into book/_build/html, then check every page as a reader would: the
# HTML always; where `chromium` is installed, each page in a browser at two widths (tables cut
# off, figures shrunk under 9 pt, screenshots in book/_build/screenshots/) and, for the cpu
# profile (the notebooks' own defaults), chapter 6 run in JupyterLab with its viewer's widgets.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-cpu}
PY=.venv/bin/python
start=$(date +%s)
"$PY" -m tbe_lib.cli reproduce --profile "$PROFILE"
"$PY" scripts/check_site.py
if [ "$PROFILE" = cpu ]; then
    "$PY" scripts/check_lab.py notebooks/06_activation_maps.ipynb
fi
echo "[book] done in $(( $(date +%s) - start )) s: open book/_build/html/index.html"
