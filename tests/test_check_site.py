"""The site check (scripts/check_site.py) fails a page that reads as a log or shows raw glue roles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
