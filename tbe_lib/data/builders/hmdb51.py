"""HMDB51 (Serre lab) and its background-debiased variants (HMDB51-STA, Actor-HMDB51).

HMDB51's official splits are ``testTrainMulti_7030_splits/<class>_test_split<N>.txt``, one
file per class and split, lines ``<video>.avi <id>`` with ``1`` = train, ``2`` = test and
``0`` = unused (dropped). Class names come from the file names; **labels are the classes
sorted alphabetically** (``brush_hair`` = 0 ... ``wave`` = 50), the convention of the common
``hmdb51_classInd.txt`` files.

Videos are looked up as ``<root>/<class>/<video>.avi`` (the layout after un-raring each
class archive) then ``<root>/<video>.avi`` (flat); frame folders likewise without ``.avi``.

The debiased variants are folders by class (``<root>/<class>/<video file or frame folder>``).
With the HMDB51 split files they get the same train/test division (videos matched by name,
any video extension); without, every video goes to one ``all`` subset, labels from the
sorted class folder names.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._common import Annotations, Entry, ListBuildError, class_folders

HINT = (
    "download the 'three splits' archive (test_train_splits.rar) from the HMDB51 page of the Serre lab "
    "(Brown University) and pass the extracted testTrainMulti_7030_splits folder as --annotations"
)
SUBDIRS = ("testTrainMulti_7030_splits",)
_ID_TO_SUBSET = {"1": "train", "2": "test"}


def build(annotations: Path, *, split: int, dataset: str = "hmdb51") -> Annotations:
    """Parse the HMDB51 split files for ``split`` (1, 2 or 3)."""
    if split not in (1, 2, 3):
        raise ListBuildError(f"{dataset}: split must be 1, 2 or 3, got {split}")
    suffix = f"_test_split{split}.txt"
    folder = _split_folder(annotations, suffix, dataset)
    files = sorted(p for p in folder.iterdir() if p.name.endswith(suffix))
    classes = sorted(p.name[: -len(suffix)] for p in files)
    label_of = {c: i for i, c in enumerate(classes)}
    subsets: dict[str, list[Entry]] = {"train": [], "test": []}
    for path in files:
        cls = path.name[: -len(suffix)]
        seen: dict[str, int] = {}
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            parts = raw.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ListBuildError(f"{path}:{lineno}: expected '<video>.avi <0|1|2>', got {raw!r}")
            if parts[0] in seen:
                raise ListBuildError(
                    f"{dataset}: duplicate entry {parts[0]!r} in {path} (lines {seen[parts[0]]} and {lineno}); "
                    "each video may appear once per split"
                )
            seen[parts[0]] = lineno
            if parts[1] == "0":
                continue  # unused in this split
            video = parts[0]
            subsets[_ID_TO_SUBSET[parts[1]]].append(
                Entry((f"{cls}/{video}", video), label_of[cls], f"{path.name}:{lineno}")
            )
    pattern = folder / f"<class>{suffix}"
    return Annotations(
        classes=classes,
        subsets=subsets,
        sources={"train": pattern, "test": pattern},
        meta={"label_order": "class names sorted alphabetically"},
    )


def _split_folder(annotations: Path, suffix: str, dataset: str) -> Path:
    """The folder holding the ``<class>_test_splitN.txt`` files (``annotations`` or a
    ``testTrainMulti_7030_splits`` sub-folder)."""
    base = annotations.parent if annotations.is_file() else annotations
    for d in (base, *(base / s for s in SUBDIRS)):
        if d.is_dir() and any(n.endswith(suffix) for n in os.listdir(d)):
            return d
    raise ListBuildError(
        f"{dataset}: annotation files '<class>{suffix}' (e.g. brush_hair{suffix}) not found in {base} "
        f"or {base / SUBDIRS[0]}; {HINT}"
    )


def build_folder(root: Path, annotations: Path | None, *, split: int | None, format: str, dataset: str) -> Annotations:
    """A background-debiased HMDB51 variant laid out as ``<root>/<class>/<video>``."""
    if annotations is not None:
        return build(annotations, split=split or 1, dataset=dataset)
    return class_folders(root, format=format, dataset=dataset)
