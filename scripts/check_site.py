#!/usr/bin/env python
"""Check the built book as a reader would: open every page, screenshot it, look for errors.

    .venv/bin/python scripts/check_site.py [--html book/_build/html] [--out book/_build/screenshots]
                                           [--chromium PATH] [--no-screenshots] [--allow-placeholders]
                                           [--widths 1024 1400]

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
* where Chromium exists (Debian package ``chromium``; without it these checks are skipped
  with a message), the page is opened in headless Chromium (Playwright) at each of ``--widths``
  and must show no table cut off (wider than the box showing it), no figure whose smallest
  text is shown under 9 pt (each image records its smallest text's size in pixels,
  :mod:`tbe_lib.viz.style`; the browser's shrink factor is measured), and must not scroll
  sideways; a full-page screenshot ``<out>/<width>/<page>.jpg`` is kept.

Exit status 0 when every page passes, 1 otherwise (each problem is printed with its page).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without the package installed

from tbe_lib.viz.style import LABEL_PT, PAGE_WIDTH_IN, read_text_px  # noqa: E402

SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
PLACEHOLDER_TEXT = "has not been executed for this build"
ERROR_CLASSES = ("output_error", "traceback", "nb-error")
WIDTHS = (1024, 1400)  # px: a laptop window and a wide one
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


# What a reader's browser shows, measured in the page: the article's width, each table's width
# against the width it is shown in (its scrolling box or the article), each figure's natural and
# shown width, and whether the page scrolls sideways.
_LAYOUT_JS = """() => {
  const main = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  if (!main) return null;  // nothing to lay out (a redirecting page)
  const box = main.getBoundingClientRect();
  const tables = [...main.querySelectorAll('table')].map(t => {
    let c = t.parentElement;
    while (c && c !== main && getComputedStyle(c).overflowX === 'visible') c = c.parentElement;
    const shown = Math.min(c ? c.clientWidth : box.width, box.width);
    const head = [...t.querySelectorAll('th')].map(h => h.innerText.trim()).filter(x => x).slice(0, 4).join(' | ');
    return {width: t.scrollWidth, shown: shown, head: head};
  });
  const images = [...main.querySelectorAll('img')].filter(im => !im.src.includes('/_static/')).map(im => (
    {src: im.getAttribute('src'), natural: im.naturalWidth, shown: im.getBoundingClientRect().width}));
  return {article: box.width, tables: tables, images: images,
          sideways: document.documentElement.scrollWidth > window.innerWidth + 1};
}"""

#: The smallest text a figure may show, in CSS px: LABEL_PT points at the page's 96 px per inch.
MIN_SHOWN_TEXT_PX = LABEL_PT * 96 / 72


def layout_problems(layout: dict, page: Path, width: int) -> list[str]:
    """What a reader at ``width`` px trips on, from the page's measured ``layout``: tables
    cut off (wider than the box that shows them), figures whose smallest text is shown under
    :data:`MIN_SHOWN_TEXT_PX` (the size each image records, times the browser's shrink), and
    pages that scroll sideways."""
    problems = []
    for t in layout["tables"]:
        if t["width"] > t["shown"] + 1:
            problems.append(
                f"at {width} px: table [{t['head'][:60]}] is {t['width']} px wide, cut off at {t['shown']:.0f} px"
            )
    for im in layout["images"]:
        src = im["src"].split("#")[0]
        if not im["natural"]:
            problems.append(f"at {width} px: image {src} did not load")
            continue
        recorded = read_text_px(page.parent / src)
        if recorded == "unrecorded":
            problems.append(f"image {src} records no text size (not drawn with tbe_lib.viz.style)")
        elif recorded is not None:
            shown = recorded * im["shown"] / im["natural"]
            if shown < MIN_SHOWN_TEXT_PX - 0.01:
                problems.append(
                    f"at {width} px: image {src} shows its smallest text at {shown:.1f} px "
                    f"(< {MIN_SHOWN_TEXT_PX:.0f} px = {LABEL_PT} pt): drawn {im['natural']} px wide, shown "
                    f"{im['shown']:.0f} px; draw it at most {PAGE_WIDTH_IN} in wide, its text at {LABEL_PT} pt or more"
                )
    if layout["sideways"]:
        problems.append(f"at {width} px: the page scrolls sideways")
    return list(dict.fromkeys(problems))


def open_browser(chromium: str):
    """Playwright's sync API and a headless Chromium (``chromium``): returns (playwright, browser)."""
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(
        executable_path=chromium,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ],
    )
    return pw, browser


def browse_page(browser, page: Path, widths: tuple[int, ...], shots: Path | None) -> tuple[list[str], list[Path]]:
    """Open ``page`` at each of ``widths``: layout problems, and the screenshots taken (one
    full-page JPEG per width under ``shots``/<width>/, when ``shots``)."""
    problems: list[str] = []
    taken: list[Path] = []
    for width in widths:
        tab = browser.new_page(viewport={"width": width, "height": 1000})
        try:
            tab.goto(page.resolve().as_uri(), wait_until="load")
            layout = tab.evaluate(_LAYOUT_JS)
            if layout is not None:
                problems += layout_problems(layout, page, width)
            if shots is not None:
                shot = shots / str(width) / page.with_suffix(".jpg").name
                shot.parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(shot), full_page=True, type="jpeg", quality=60)
                taken.append(shot)
        finally:
            tab.close()
    return list(dict.fromkeys(problems)), taken


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
    ap.add_argument("--no-screenshots", action="store_true", help="only check the HTML (no browser)")
    ap.add_argument("--allow-placeholders", action="store_true", help="chapters not executed yet are not an error")
    ap.add_argument(
        "--widths", type=int, nargs="+", default=list(WIDTHS), help="window widths, px (default: %(default)s)"
    )
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
            "check_site: chromium not found (Debian/Ubuntu: apt-get install -y chromium): the pages are not opened "
            "in a browser (no layout checks, no screenshots), HTML checks only"
        )
    pw, browser = open_browser(chromium) if chromium else (None, None)
    failures, placeholders = 0, []
    try:
        for page in pages:
            rel = page.relative_to(html_root)
            problems, placeholder = check_page(page, html_root, args.book.resolve())
            if placeholder:
                placeholders.append(str(rel))
                if not args.allow_placeholders:
                    problems.append("placeholder page: the chapter was not executed")
            redirect = 'http-equiv="refresh"' in page.read_text(errors="replace")[:2000].lower()
            if browser is not None and not placeholder and not redirect:
                more, _ = browse_page(browser, page, tuple(args.widths), out)
                problems += more
            status = "FAIL" if problems else ("placeholder" if placeholder else "ok")
            print(f"[check_site] {status:11s} {rel}")
            for pr in problems:
                print(f"              - {pr}")
            failures += bool(problems)
    finally:
        if browser is not None:
            browser.close()
            pw.stop()
    print(
        f"[check_site] {len(pages)} pages, {failures} with problems"
        + (f", {len(placeholders)} placeholder(s)" if placeholders else "")
        + (f"; opened at {', '.join(map(str, args.widths))} px, screenshots in {out}" if browser else "")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
