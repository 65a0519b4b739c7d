#!/usr/bin/env bash
# Main job: run the book's notebooks with the given profile (tbe reproduce: papermill, cached per
# notebook), build the site into book/_build/html, then check every page as a reader would
# (headless Chromium screenshots when `chromium` is installed; the HTML checks otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-cpu}
PY=.venv/bin/python
start=$(date +%s)
"$PY" -m tbe_lib.cli reproduce --profile "$PROFILE"
"$PY" scripts/check_site.py
echo "[book] done in $(( $(date +%s) - start )) s: open book/_build/html/index.html"
