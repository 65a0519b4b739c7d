"""Ground-truth actor masks of a generated benchmark, looked up by video path and frame indices
(for the ``actor_swap`` view of :class:`tbe_lib.data.dataset.ClipDataset` and the oracle
method that trains on it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .config import SPLITS
from .generate import load_manifest

__all__ = ["ActorMasks"]

_VIDEO = re.compile(r"videos/(?P<split>[a-z_]+)/(?P<index>\d+)\.mp4$")


class ActorMasks:
    """The actor masks of the benchmark folder ``root`` (``masks/<split>.npy``, bit-packed),
    read lazily per split: ``masks(path, indices)`` is bool ``(T, H, W)`` for the frames
    ``indices`` of the video at ``path`` (``<root>/videos/<split>/<index>.mp4``)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        manifest = load_manifest(self.root)
        if manifest is None or not (self.root / "masks").is_dir():
            raise FileNotFoundError(
                f"{self.root}: no benchmark masks (manifest.json and masks/) there; the actor masks exist only "
                "for the embedded benchmark (tbe data synth)"
            )
        self.width = int(manifest["config"]["width"])
        self._packed: dict[str, np.ndarray] = {}

    @classmethod
    def for_videos(cls, paths: list[Path]) -> "ActorMasks":
        """The masks of the benchmark holding the videos ``paths`` (all in one folder's ``videos/``)."""
        roots = {p.parents[2] for p in paths if _VIDEO.search(p.as_posix())}
        if len(roots) != 1 or len(paths) == 0 or not all(_VIDEO.search(p.as_posix()) for p in paths):
            first = paths[0] if paths else "(no videos)"
            raise ValueError(
                f"{first}: actor masks need the embedded benchmark's videos (<folder>/videos/<split>/<index>.mp4 "
                "of one folder made by tbe data synth); this list has other videos"
            )
        return cls(roots.pop())

    def __call__(self, path: str | os.PathLike, indices: np.ndarray) -> np.ndarray:
        m = _VIDEO.search(Path(path).as_posix())
        if m is None or m["split"] not in SPLITS:
            raise ValueError(f"{path}: not a video of the benchmark at {self.root}")
        split = m["split"]
        if split not in self._packed:
            self._packed[split] = np.load(self.root / "masks" / f"{split}.npy", mmap_mode="r")
        row = self._packed[split][int(m["index"])][np.asarray(indices, dtype=np.int64)]  # (T, H, ceil(W/8))
        return np.unpackbits(row, axis=-1, count=self.width).astype(bool)  # (T, H, W)
