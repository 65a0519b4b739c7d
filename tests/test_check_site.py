"""The site check (scripts/check_site.py) fails a page that reads as a log or shows raw glue roles."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_site", ROOT / "scripts" / "check_site.py")
check_site = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_site)


def _page(tmp_path: Path, body: str) -> tuple[list[str], bool]:
    html = tmp_path / "site"
    (html / "book").mkdir(parents=True, exist_ok=True)
    page = html / "book" / "ch.html"
    page.write_text(f"<html><body><article>{body}</article></body></html>")
    return check_site.check_page(page, html, tmp_path / "book")


def test_a_page_of_training_logs_is_a_problem_and_summary_lines_are_not(tmp_path):
    log = "".join(f"<pre>[finetune sup] step {i}/300 loss 1.2 3.0 clips/s eta 5s</pre>" for i in range(40))
    problems, _ = _page(tmp_path, log)
    assert any("40 training log lines" in p for p in problems)
    summary = "<pre>[finetune sup] done at step 300/300: 300 steps in 12.0 s; loss 0.5</pre>" * 20
    assert _page(tmp_path, summary)[0] == []


def test_raw_glue_roles_are_a_problem(tmp_path):
    problems, _ = _page(tmp_path, "<p>BE takes {glue:text}`be_over_clone:.2f` times</p>")
    assert any("raw '{glue'" in p for p in problems)


# --- In the browser: tables that do not fit, figures shrunk below 9 pt, images that do not say. ---

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="no chromium (Debian: apt-get install -y chromium): layout not checked"
)


def _figure(path: Path, width_in: float, fontsize: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tbe_lib.viz.style import save_figure

    fig, ax = plt.subplots(figsize=(width_in, 2))
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=fontsize)
    ax.set_title("a title", fontsize=fontsize)
    save_figure(fig, path)
    plt.close(fig)
    return path.name


def _browse(tmp_path: Path, body: str) -> list[str]:
    html = tmp_path / "site"
    (html / "book").mkdir(parents=True, exist_ok=True)
    page = html / "book" / "ch.html"
    page.write_text(
        '<html><body style="margin:0"><main><article class="bd-article" style="width:784px">'
        f"{body}</article></main></body></html>"
    )
    pw, browser = check_site.open_browser(shutil.which("chromium"))
    try:
        problems, shots = check_site.browse_page(browser, page, (1400,), tmp_path / "shots")
    finally:
        browser.close()
        pw.stop()
    assert shots and shots[0].stat().st_size > 0
    return problems


@needs_chromium
def test_a_table_wider_than_the_column_is_cut_off_and_a_narrow_one_is_not(tmp_path):
    row = "".join(f"<th>column number {i}</th>" for i in range(14))
    wide = f'<div style="overflow-x:auto"><table style="white-space:nowrap"><tr>{row}</tr></table></div>'
    problems = _browse(tmp_path, wide)
    assert any("cut off at 784 px" in p for p in problems), problems
    narrow = '<div style="overflow-x:auto"><table><tr><th>row</th><th>top-1</th></tr></table></div>'
    assert _browse(tmp_path, narrow) == []


@needs_chromium
def test_a_figure_shrunk_below_9_pt_is_unreadable_and_one_drawn_for_the_column_is_not(tmp_path):
    (tmp_path / "site" / "book").mkdir(parents=True)
    wide = _figure(tmp_path / "site" / "book" / "wide.png", 16, 9)  # 1600 px shown at 784: 9 pt -> 4.4 pt
    problems = _browse(tmp_path, f'<img src="{wide}" style="max-width:100%">')
    assert any("smallest text at" in p and "wide.png" in p for p in problems), problems
    small_font = _figure(tmp_path / "site" / "book" / "small.png", 6, 6)  # fits, but 6 pt text
    assert any("small.png" in p for p in _browse(tmp_path, f'<img src="{small_font}" style="max-width:100%">'))
    good = _figure(tmp_path / "site" / "book" / "good.png", 6, 9)
    assert _browse(tmp_path, f'<img src="{good}" style="max-width:100%">') == []


@needs_chromium
def test_an_image_that_does_not_record_its_text_size_is_reported(tmp_path):
    from PIL import Image

    (tmp_path / "site" / "book").mkdir(parents=True)
    Image.new("RGB", (100, 50), "white").save(tmp_path / "site" / "book" / "plain.png")
    problems = _browse(tmp_path, '<img src="plain.png">')
    assert any("records no text size" in p for p in problems), problems
