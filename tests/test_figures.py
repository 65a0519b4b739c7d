"""The book's frame strips are drawn for the page: no wider than its text column, labels at
LABEL_PT or more at the size shown, and activation overlays with a colour scale."""

from __future__ import annotations

import matplotlib
import pytest
import torch

from tbe_lib.viz import cam_strip, frame_strip
from tbe_lib.viz.frames import LABEL_PT, PAGE_WIDTH_IN
from tbe_lib.viz.style import min_text_pt

matplotlib.use("Agg")


def _font_sizes(fig) -> list[float]:
    texts = [t for ax in fig.axes for t in (ax.title, ax.yaxis.label, *ax.get_yticklabels()) if t.get_text()]
    return [t.get_fontsize() for t in texts]


def test_a_strip_of_sixteen_frames_fits_the_page_with_legible_labels():
    fig = frame_strip([torch.rand(3, 16, 32, 32)] * 3, ["clip x", "BE x~ (λ=0.20)", "|x~ - x| ×10"])
    assert fig.get_size_inches()[0] <= PAGE_WIDTH_IN + 1e-6
    assert min(_font_sizes(fig)) >= LABEL_PT


def test_activation_overlays_come_with_their_colour_scale():
    x = torch.rand(3, 8, 32, 32)
    fig = cam_strip(x, {"MoCo": torch.rand(8, 32, 32), "BE": torch.rand(8, 32, 32)})
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and "activation" in bars[0].get_ylabel()
    assert fig.get_size_inches()[0] <= PAGE_WIDTH_IN + 1e-6


def test_a_book_figure_records_its_smallest_text_in_pixels(tmp_path):
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from tbe_lib.viz.style import DPI, TEXT_PX_KEY, figure_png, read_text_px, save_figure

    fig, ax = plt.subplots(figsize=(4, 2))
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=12)
    ax.set_title("a note", fontsize=7)  # the smallest text
    assert Image.open(io.BytesIO(figure_png(fig))).text[TEXT_PX_KEY] == f"{7 * DPI / 72:.2f}"
    assert read_text_px(save_figure(fig, tmp_path / "f.png")) == pytest.approx(7 * DPI / 72, abs=0.01)
    plt.close(fig)
    blank, bax = plt.subplots()
    bax.axis("off")
    assert read_text_px(save_figure(blank, tmp_path / "blank.png")) is None  # no text: nothing to read
    plt.close(blank)


def test_the_book_style_draws_every_default_text_at_the_label_size_or_more():
    import matplotlib

    from tbe_lib.viz.style import BOOK_RC, PAGE_WIDTH_IN, use_book_style

    with matplotlib.rc_context():
        use_book_style()
        fig, ax = plt_subplots_with_everything()
        assert min_text_pt(fig) >= LABEL_PT
        assert fig.get_size_inches()[0] <= PAGE_WIDTH_IN
    assert BOOK_RC["figure.dpi"] == 100


def plt_subplots_with_everything():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_title("title")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(title="legend")
    fig.suptitle("suptitle")
    fig.canvas.draw()
    return fig, ax


def test_animations_fit_the_column_and_record_their_text_size(tmp_path):
    import numpy as np

    from tbe_lib.viz import panel_frames, write_animation
    from tbe_lib.viz.overlay import PANEL_TEXT_PX
    from tbe_lib.viz.style import read_text_px

    panels = [np.random.rand(4, 32, 32, 3)] * 5  # a clip and four models' overlays
    frames = panel_frames(panels, ["clip", "a", "b", "c", "d"])
    assert frames.shape[2] <= round(PAGE_WIDTH_IN * 100)
    assert PANEL_TEXT_PX >= LABEL_PT * 96 / 72  # 9 pt on the page when shown unshrunk
    gif = write_animation(frames, tmp_path / "a.gif")
    assert read_text_px(gif) == pytest.approx(PANEL_TEXT_PX)


def test_in_a_jupyter_kernel_the_figures_shown_record_their_text_size():
    import base64
    import io

    import nbformat
    from nbclient import NotebookClient
    from PIL import Image

    from tbe_lib.viz.style import TEXT_PX_KEY

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "from tbe_lib.viz.style import use_book_style\n"
            "use_book_style()\n"
            "fig, ax = plt.subplots()\n"
            "ax.plot([0, 1], [0, 1])\n"
            "plt.show()"
        )
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    pngs = [o["data"]["image/png"] for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1
    recorded = Image.open(io.BytesIO(base64.b64decode(pngs[0]))).text.get(TEXT_PX_KEY)
    assert recorded is not None and float(recorded) >= LABEL_PT * 100 / 72 - 0.01
