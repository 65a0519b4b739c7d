#!/usr/bin/env python
"""Check the built book as a reader would: open every page, screenshot it, look for errors.

    .venv/bin/python scripts/check_site.py [--html book/_build/html] [--out book/_build/screenshots]
                                           [--chromium PATH] [--no-screenshots] [--allow-placeholders]

For each HTML page of the site (the book's pages, not Sphinx's genindex/search):

* the page must not show an error: no element whose class names an error output
  (``output_error``, ``traceback``, ``stderr`` outputs holding a traceback), no text
  "Traceback (most recent call last)", no papermill error banner, no unresolved glue key;
* a chapter executed from a notebook must show at least as many ``<img>`` as its executed
  notebook (``book/<name>.ipynb``) has image outputs (figures not lost in the build);
* the page must read as a book, not a log: no raw ``{glue`` role text, and at most
  ``MAX_LOG_LINES`` training log lines (``[pretrain ...] step``, ``[finetune ...] step``: under
  ``tbe reproduce`` training prints one summary line per run, its log goes to the run folder);
* a placeholder page (chapter not executed yet) is reported, and is an error only without
  ``--allow-placeholders``;
* a screenshot ``<out>/<page>.png`` is taken with headless Chromium (Debian package
  ``chromium``; the screenshots are skipped with a message when it is absent).

Exit status 0 when every page passes, 1 otherwise (each problem is printed with its page).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
PLACEHOLDER_TEXT = "has not been executed for this build"
ERROR_CLASSES = ("output_error", "traceback", "nb-error")
MAX_LOG_LINES = 10  # training log lines a page may show (summary lines are not log lines)
LOG_LINE = re.compile(r"\[(?:pretrain|finetune)[^\]]*\] step \d+/\d+")
ERROR_TEXTS = (
    "Traceback (most recent call last)",
    "An Exception was encountered at",  # papermill's error banner
    "PapermillExecutionError",
)


class _PageParser(HTMLParser):
    """Counts the images in the article and collects class names and visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.error_elements: list[str] = []
        self.text: list[str] = []
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "img":
            src = a.get("src") or ""
            if "_static/" not in src:  # logos and theme icons are not figures
                self.images.append(src)
        classes = (a.get("class") or "").split()
        bad = [c for c in classes if c in ERROR_CLASSES]
        if bad:
            self.error_elements.append(f'<{tag} class="{" ".join(classes)}">')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def notebook_images(nb_path: Path) -> int:
    """Number of image outputs in an executed notebook."""
    nb = json.loads(nb_path.read_text())
    n = 0
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data):
                n += 1
    return n


def check_page(page: Path, html_root: Path, book_dir: Path) -> tuple[list[str], bool]:
    """Problems found on ``page`` and whether it is a placeholder."""
    p = _PageParser()
    p.feed(page.read_text(errors="replace"))
    text = " ".join(p.text)
    problems = [f"error element {e}" for e in p.error_elements[:3]]
    problems += [f"text {t!r}" for t in ERROR_TEXTS if t in text]
    for marker in ("glue key", "not found in glue", "Could not find key"):
        if marker in text:
            problems.append(f"unresolved glue ({marker!r})")
    if "{glue" in text:
        problems.append("raw '{glue' role text on the page")
    log_lines = len(LOG_LINE.findall(text))
    if log_lines > MAX_LOG_LINES:
        problems.append(f"{log_lines} training log lines on the page (at most {MAX_LOG_LINES}): a log dump")
    placeholder = PLACEHOLDER_TEXT in text
    rel = page.relative_to(html_root)
    nb = book_dir / rel.with_suffix(".ipynb").name if rel.parts[0] == book_dir.name else None
    if nb is not None and nb.is_file() and not placeholder:
        want = notebook_images(nb)
        if len(p.images) < want:
            problems.append(f"{len(p.images)} <img> on the page, but the notebook {nb.name} has {want} image outputs")
        missing = [src for src in p.images if not (page.parent / src.split("#")[0]).resolve().is_file()]
        if missing:
            problems.append(f"{len(missing)} image file(s) missing, e.g. {missing[0]}")
    return problems, placeholder


def find_chromium(explicit: str | None) -> str | None:
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(
    chromium: str, page: Path, png: Path, *, width: int = 1280, height: int = 2000, timeout: float = 90.0
) -> str | None:
    """Screenshot ``page`` into ``png``; returns an error message or None."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tbe-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
            page.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"chromium timed out after {timeout:.0f} s"
    if proc.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return f"chromium exit {proc.returncode}: {' | '.join(tail)}"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--html", type=Path, default=ROOT / "book" / "_build" / "html", help="built site (default: %(default)s)"
    )
    ap.add_argument(
        "--book", type=Path, default=ROOT / "book", help="folder of the executed notebooks (default: %(default)s)"
    )
    ap.add_argument("--out", type=Path, default=None, help="screenshots folder (default: <html>/../screenshots)")
    ap.add_argument("--chromium", default=None, help="chromium executable (default: found on PATH)")
    ap.add_argument("--no-screenshots", action="store_true", help="only check the HTML")
    ap.add_argument("--allow-placeholders", action="store_true", help="chapters not executed yet are not an error")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2000)
    args = ap.parse_args(argv)

    html_root = args.html.resolve()
    if not (html_root / "index.html").is_file():
        print(
            f"check_site: {html_root}/index.html not found; build the book first (make book, or tbe reproduce --build-only)"
        )
        return 1
    out = (args.out or html_root.parent / "screenshots").resolve()
    pages = sorted(
        p
        for p in html_root.rglob("*.html")
        if p.name not in SKIP_PAGES and not {"_static", "_sources", "_images"} & set(p.relative_to(html_root).parts)
    )
    chromium = None if args.no_screenshots else find_chromium(args.chromium)
    if not args.no_screenshots and chromium is None:
        print(
            "check_site: chromium not found (Debian/Ubuntu: apt-get install -y chromium): screenshots skipped, "
            "HTML checks only"
        )
    failures, placeholders = 0, []
    for page in pages:
        rel = page.relative_to(html_root)
        problems, placeholder = check_page(page, html_root, args.book.resolve())
        if placeholder:
            placeholders.append(str(rel))
            if not args.allow_placeholders:
                problems.append("placeholder page: the chapter was not executed")
        shot = ""
        if chromium is not None:
            png = out / rel.with_suffix(".png")
            err = screenshot(chromium, page, png, width=args.width, height=args.height)
            if err:
                problems.append(f"screenshot failed: {err}")
            else:
                shot = f" -> {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}"
        status = "FAIL" if problems else ("placeholder" if placeholder else "ok")
        print(f"[check_site] {status:11s} {rel}{shot}")
        for pr in problems:
            print(f"              - {pr}")
        failures += bool(problems)
    print(
        f"[check_site] {len(pages)} pages, {failures} with problems"
        + (f", {len(placeholders)} placeholder(s)" if placeholders else "")
        + (f"; screenshots in {out}" if chromium else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
