"""The book's frame strips are drawn for the page: no wider than its text column, labels at
LABEL_PT or more at the size shown, and activation overlays with a colour scale."""

from __future__ import annotations

import matplotlib
import torch

from tbe_lib.viz import cam_strip, frame_strip
from tbe_lib.viz.frames import LABEL_PT, PAGE_WIDTH_IN

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
