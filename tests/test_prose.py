"""The book's prose shows its numbers in JupyterLab too: :func:`say` fills glued values into a
sentence in the notebook itself, and no notebook relies on glue roles that only the built site
fills in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tbe_lib.book import helpers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_say_writes_the_glued_numbers_into_the_sentence(monkeypatch):
    shown = []
    helpers.glue("speed_ratio", 1.23456)
    monkeypatch.setattr("IPython.display.display", lambda obj, *a, **k: shown.append(getattr(obj, "data", obj)))
    helpers.say("BE takes {speed_ratio:.2f} times as long as a copy.")
    assert shown == ["BE takes 1.23 times as long as a copy."]
    with pytest.raises(KeyError, match="'never_glued' was never glued"):
        helpers.say("{never_glued}")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_prose_waits_for_the_site_to_fill_in_its_numbers(nb):
    cells = json.loads(nb.read_text())["cells"]
    roles = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "{glue:" in "".join(c["source"])]
    assert roles == [], f"{nb.name}: markdown cells {roles} use glue roles (JupyterLab shows them raw); use say()"
