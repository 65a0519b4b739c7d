"""Data: the embedded benchmark, list files, video decoding, clip sampling and loaders.

* :mod:`.synth`: the embedded background-trap benchmark (``tbe data synth``);
* :mod:`.listfile`: the two list formats (video files, frame folders) and their reader;
* :mod:`.lists` / :mod:`.builders`: list builders for UCF101, HMDB51, Diving48, Kinetics-400,
  Something-Something and the debiased HMDB51 variants (``tbe data lists``);
* :mod:`.prepare`: re-encoding / frame extraction (``tbe data prepare``);
* :mod:`.decode`, :mod:`.sampling`, :mod:`.dataset`: on-the-fly decoding with PyAV (or JPEG
  frames), clip sampling, :class:`~tbe_lib.data.dataset.ClipDataset` and ``build_loader``.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    **{
        n: ".dataset"
        for n in (
            "BE_VIEWS",
            "MOCO_VIEWS",
            "ClipBatch",
            "ClipDataset",
            "ClipSample",
            "ClipSampler",
            "build_loader",
            "collate_clips",
        )
    },
    **{n: ".listfile" for n in ("ListFormatError", "VideoList", "VideoRecord", "read_list", "write_list")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: ``tbe --help`` must not import torch
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
