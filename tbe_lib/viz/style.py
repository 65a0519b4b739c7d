"""The book's figure style: figures drawn for the page, each carrying the size of its smallest text.

A figure is legible on the page when its smallest text, at the size the page shows the image,
is at least :data:`LABEL_PT` points. The page shows an image at its own size, or shrunk to the
text column; so the figure must know its text size *in image pixels*, and the page check
(``scripts/check_site.py``) multiplies it by the shrink factor the browser applied. Every image
the book writes records that size:

* matplotlib figures shown in a notebook (after :func:`use_book_style`) and saved with
  :func:`save_figure`: a PNG text chunk :data:`TEXT_PX_KEY` (``"none"`` when it has no text);
* animations (:func:`tbe_lib.viz.overlay.write_animation`): the GIF comment
  ``tbe:min-text-px=<px>``.

:func:`read_text_px` reads it back from a file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

__all__ = [
    "PAGE_WIDTH_IN",
    "LABEL_PT",
    "DPI",
    "TEXT_PX_KEY",
    "BOOK_RC",
    "min_text_pt",
    "figure_png",
    "save_figure",
    "use_book_style",
    "read_text_px",
]

#: Width of the book's figures in inches at :data:`DPI` (740 px; the text column is 784 px in a
#: wide window, 755 px in a 1024-px one): a figure no wider than this is shown at its own size,
#: so its fonts keep their point size on the page.
PAGE_WIDTH_IN = 7.4
#: Smallest font size of the book's figures (points, at the size shown).
LABEL_PT = 9
#: Pixels per inch of the book's figures (matplotlib's default; the page's CSS has 96).
DPI = 100
#: Key of the PNG text chunk (and prefix of the GIF comment) with the smallest text's size, px.
TEXT_PX_KEY = "tbe:min-text-px"

#: matplotlib settings of the book's figures: every text at LABEL_PT or more, figures at most
#: PAGE_WIDTH_IN wide by default.
BOOK_RC: dict[str, object] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": (PAGE_WIDTH_IN * 0.8, 3.2),
    "font.size": LABEL_PT + 1,
    "axes.titlesize": LABEL_PT + 1,
    "axes.labelsize": LABEL_PT + 1,
    "xtick.labelsize": LABEL_PT,
    "ytick.labelsize": LABEL_PT,
    "legend.fontsize": LABEL_PT,
    "legend.title_fontsize": LABEL_PT,
    "figure.titlesize": LABEL_PT + 1,
}


def min_text_pt(fig) -> float | None:
    """The smallest font size (points) of the visible, non-empty texts of matplotlib ``fig``
    (titles, labels, tick labels, legends, annotations); None when it has no text."""
    from matplotlib.text import Text

    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())
    ]
    return min(sizes) if sizes else None


def _save_png(fig, target, dpi: float) -> None:
    """``fig`` as a PNG into ``target`` (a path or a file object): tight bounding box, ``dpi``,
    and its smallest text's size in pixels under :data:`TEXT_PX_KEY`."""
    fig.canvas.draw()  # tick labels exist only once drawn
    pt = min_text_pt(fig)
    px = "none" if pt is None else f"{pt * dpi / 72:.2f}"
    fig.savefig(target, format="png", dpi=dpi, bbox_inches="tight", metadata={TEXT_PX_KEY: px})


def figure_png(fig) -> bytes:
    """``fig`` as the PNG the book shows (tight bounding box, the figure's dpi), with its
    smallest text's size in pixels under :data:`TEXT_PX_KEY`."""
    buf = io.BytesIO()
    _save_png(fig, buf, fig.get_dpi())
    return buf.getvalue()


def save_figure(fig, path: str | os.PathLike, *, dpi: float = DPI) -> Path:
    """Save ``fig`` as a PNG at ``path`` (tight bounding box, ``dpi``) recording its smallest
    text's size in pixels (:data:`TEXT_PX_KEY`). Returns the path."""
    path = Path(path)
    _save_png(fig, path, dpi)
    return path


def use_book_style() -> None:
    """Draw this session's matplotlib figures the book's way (:data:`BOOK_RC`) and, inside
    IPython / Jupyter, show them as PNGs that record their smallest text's size (see the
    module's docstring). Called by each chapter's first cell."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    # Load the backend now: Jupyter's inline backend sets its own PNG formatter when loaded,
    # which would replace the one below if it loaded at the first figure.
    plt.switch_backend(matplotlib.get_backend())
    matplotlib.rcParams.update(BOOK_RC)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: rcParams only
        return
    ip = get_ipython()
    if ip is not None:
        ip.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def read_text_px(path: str | os.PathLike) -> float | None | str:
    """The smallest text's size in pixels recorded in the image at ``path``: a float, None for
    an image without text, ``"unrecorded"`` for an image that does not say."""
    from PIL import Image

    with Image.open(path) as im:
        if im.format == "GIF":
            comment = im.info.get("comment", b"")
            comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
            value = comment.split(f"{TEXT_PX_KEY}=", 1)[1].split()[0] if f"{TEXT_PX_KEY}=" in comment else None
        else:
            value = (getattr(im, "text", None) or im.info).get(TEXT_PX_KEY)
    if value is None:
        return "unrecorded"
    return None if value == "none" else float(value)
