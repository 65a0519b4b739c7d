#!/usr/bin/env python
"""Check a notebook in JupyterLab as a reader would: open it, run all cells, see the widgets.

    .venv/bin/python scripts/check_lab.py [NOTEBOOK] [--chromium PATH] [--timeout 600] [--out DIR]
                                          [--require] [--project-root DIR]

Starts JupyterLab from this Python (a free port on 127.0.0.1, no token, its settings in a
temporary folder), opens a *copy* of ``NOTEBOOK`` (default ``notebooks/explore.ipynb``; the
original is never saved over) in headless Chromium driven by Playwright, runs all its cells
and waits until the kernel is idle. The check fails when a cell shows an error, when no
activation-map viewer widget rendered (a slider and at least one image inside a widget), or
when moving the viewer's frame slider does not change its images. A screenshot of the
notebook is written to ``<out>/lab_<notebook>.png`` (default out: book/_build/screenshots).

Needs Chromium (Debian package ``chromium``): without it, it says so and exits 0 (``--require``
makes that an error). Exit status 0 when the notebook passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from check_site import find_chromium, open_browser  # noqa: E402

# Elements of JupyterLab 4 and ipywidgets 8 the check looks for.
_ERROR_OUTPUTS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
_WIDGET_SLIDER = ".jp-OutputArea-output .widget-slider"
_WIDGET_IMAGES = ".jp-OutputArea-output .jupyter-widgets img"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root_dir: Path, settings: Path, port: int, log: Path, project: Path = ROOT) -> subprocess.Popen:
    """JupyterLab serving ``root_dir`` on ``port``, with its own settings folder ``settings``;
    the notebooks' relative paths (data, runs) are taken from ``project``."""
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(settings / "config"),
        JUPYTER_DATA_DIR=str(settings / "data"),
        JUPYTER_RUNTIME_DIR=str(settings / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(settings / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(settings / "user-settings"),
        TBE_PROGRESS=env.get("TBE_PROGRESS", "plain"),
        TBE_PROJECT_ROOT=str(project),  # the copy's relative paths (data, runs): the project's, as under make lab
    )
    news = settings / "user-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text('{"fetchNews": "false", "checkForUpdates": false}')  # no pop-up over the screenshot
    env.pop("PAPERMILL_EXECUTION", None)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--allow-root",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
    ]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=root_dir)


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


def _kernel_idle(tab) -> bool:
    return tab.evaluate(
        """() => {
          const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
          const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
          return !!k && k.status === 'idle';
        }"""
    )


def run_notebook(tab, url: str, timeout: float) -> list[str]:
    """Open ``url`` (a notebook in JupyterLab), run all cells, wait for the kernel; problems."""
    tab.goto(url, wait_until="domcontentloaded")
    tab.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=120_000)
    tab.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    end = time.monotonic() + 120
    while not _kernel_idle(tab):
        if time.monotonic() > end:
            return ["the notebook's kernel did not start within 120 s"]
        time.sleep(0.5)
    tab.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    time.sleep(2)
    end = time.monotonic() + timeout
    while True:  # busy while cells run; idle (and no cell waiting, "[*]") when all have run
        pending = tab.evaluate(
            "() => [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.innerText.includes('*'))"
        )
        if not pending and _kernel_idle(tab):
            break
        if time.monotonic() > end:
            return [f"the cells had not finished after {timeout:.0f} s"]
        time.sleep(1)
    problems = []
    for text in tab.eval_on_selector_all(_ERROR_OUTPUTS, "els => els.map(e => e.innerText)"):
        if "Error" in text or "Traceback" in text:
            problems.append("a cell shows an error: " + " ".join(text.split())[-300:])
    return problems


def check_viewer(tab) -> list[str]:
    """The viewer rendered as widgets, and its frame slider (the slider labelled "frame")
    changes its images."""
    try:
        tab.wait_for_selector(_WIDGET_SLIDER, timeout=60_000)
        tab.wait_for_function(
            f"() => [...document.querySelectorAll({_WIDGET_IMAGES!r})].some(i => i.naturalWidth > 0)", timeout=60_000
        )
    except Exception:  # noqa: BLE001  (Playwright's timeout: say what is missing)
        text = " ".join(tab.inner_text(".jp-NotebookPanel").split())
        hint = "'Error displaying widget'" if "Error displaying widget" in text else "no slider or image"
        return [f"no viewer widget rendered ({hint})"]
    before = tab.eval_on_selector_all(_WIDGET_IMAGES, "els => els.map(e => e.src)")
    handle = tab.locator(_WIDGET_SLIDER).filter(has_text="frame").locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    try:
        tab.wait_for_function(
            f"before => [...document.querySelectorAll({_WIDGET_IMAGES!r})].map(e => e.src).join() !== before.join()",
            arg=before,
            timeout=60_000,
        )
    except Exception:  # noqa: BLE001
        return ["moving the viewer's frame slider did not change its images"]
    return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", nargs="?", type=Path, default=ROOT / "notebooks" / "explore.ipynb")
    ap.add_argument("--chromium", default=None, help="chromium executable (default: found on PATH)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds the cells may run (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "_build" / "screenshots")
    ap.add_argument("--require", action="store_true", help="no Chromium is an error, not a skip")
    ap.add_argument(
        "--project-root",
        type=Path,
        default=ROOT,
        help="folder the notebook's relative paths (data/, runs/) are in (default: this project)",
    )
    args = ap.parse_args(argv)

    notebook = args.notebook.resolve()
    if not notebook.is_file():
        print(f"check_lab: {notebook} not found; pass a notebook of notebooks/")
        return 1
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("check_lab: chromium not found (Debian/Ubuntu: apt-get install -y chromium): JupyterLab not checked")
        return 1 if args.require else 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tbe-lab-") as tmp:
        tmp = Path(tmp)
        work = tmp / "notebooks"
        work.mkdir()
        shutil.copy(notebook, work / notebook.name)  # JupyterLab may save it: never the original
        port = _free_port()
        log = tmp / "lab.log"
        lab = start_lab(work, tmp / "settings", port, log, args.project_root.resolve())
        pw = browser = None
        try:
            wait_http(f"http://127.0.0.1:{port}/lab", lab, 120)
            pw, browser = open_browser(chromium)
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems = run_notebook(tab, f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?reset", args.timeout)
            if not problems:
                problems = check_viewer(tab)
            shot = args.out / f"lab_{notebook.stem}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(shot))
        except Exception as e:  # noqa: BLE001  (one line, and JupyterLab's log, instead of a trace)
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
            problems, shot = [f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", *tail], None
        finally:
            if browser is not None:
                browser.close()
                pw.stop()
            lab.terminate()
            try:
                lab.wait(20)
            except subprocess.TimeoutExpired:
                lab.kill()
    status = "FAIL" if problems else "ok"
    print(f"[check_lab] {status} {notebook.name} in JupyterLab ({time.monotonic() - t0:.0f} s)")
    for p in problems:
        print(f"            - {p}")
    if shot is not None:
        print(f"[check_lab] screenshot {shot}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
