"""UCF101 (CRCV, UCF): ``classInd.txt``, ``trainlist0N.txt``, ``testlist0N.txt``, splits 1-3.

* ``classInd.txt``: ``1 ApplyEyeMakeup`` (1-based); our labels are that index minus 1.
* ``trainlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``;
  the label column must agree with the class folder.
* ``testlist0N.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi`` (no label): the label
  comes from the class folder name.

Videos are looked up as ``<root>/<Class>/<video>.avi`` then ``<root>/<video>.avi`` (flat);
frame folders as ``<root>/<Class>/<video>/`` then ``<root>/<video>/`` (the flat
``jpegs_256`` layout the paper used).
"""

from __future__ import annotations

from pathlib import Path

from ._common import Annotations, Entry, ListBuildError, find_annotation

HINT = (
    "download 'The Train/Test Splits for Action Recognition on UCF101' (UCF101TrainTestSplits-RecognitionTask.zip) "
    "from the UCF101 page of the UCF Center for Research in Computer Vision and pass the unzipped "
    "ucfTrainTestlist folder as --annotations"
)
SUBDIRS = ("ucfTrainTestlist",)


def read_class_ind(path: Path) -> list[str]:
    """Class names in label order from a ``classInd.txt`` (``<1-based idx> <name>``)."""
    names: dict[int, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        if not raw.strip():
            continue
        parts = raw.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ListBuildError(f"{path}:{lineno}: expected '<index> <ClassName>', got {raw!r}")
        idx = int(parts[0])
        if idx in names:
            raise ListBuildError(f"{path}:{lineno}: class index {idx} appears twice")
        names[idx] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ListBuildError(
            f"{path}: class indices must be 1..{len(names)} without gaps (found {sorted(names)[:5]}...)"
        )
    if not names:
        raise ListBuildError(f"{path}: no classes found")
    return [names[i] for i in range(1, len(names) + 1)]


def build(annotations: Path, *, split: int) -> Annotations:
    """Parse the UCF101 annotation folder for ``split`` (1, 2 or 3)."""
    if split not in (1, 2, 3):
        raise ListBuildError(f"ucf101: split must be 1, 2 or 3, got {split}")
    class_ind = find_annotation(annotations, ["classInd.txt"], dataset="ucf101", hint=HINT, subdirs=SUBDIRS)
    classes = read_class_ind(class_ind)
    by_name = {c.lower(): i for i, c in enumerate(classes)}  # the official files mix 'HandStand'/'Handstand'
    subsets: dict[str, list[Entry]] = {}
    sources: dict[str, Path] = {}
    for subset, fname in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        path = find_annotation(class_ind.parent, [fname], dataset="ucf101", hint=HINT)
        entries = []
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            parts = raw.split()
            if not parts:
                continue
            rel = parts[0]
            if "/" not in rel or len(parts) > 2:
                raise ListBuildError(f"{path}:{lineno}: expected '<Class>/<video>.avi [label]', got {raw!r}")
            cls = rel.split("/", 1)[0]
            if cls.lower() not in by_name:
                raise ListBuildError(f"{path}:{lineno}: unknown class name {cls!r} (not in {class_ind})")
            label = by_name[cls.lower()]
            if len(parts) == 2:
                if not parts[1].isdigit():
                    raise ListBuildError(f"{path}:{lineno}: label {parts[1]!r} is not an integer")
                if int(parts[1]) - 1 != label:
                    raise ListBuildError(
                        f"{path}:{lineno}: label {parts[1]} disagrees with class folder {cls!r} "
                        f"(index {label + 1} in {class_ind})"
                    )
            entries.append(Entry((rel, rel.split("/", 1)[1]), label, f"{path.name}:{lineno}"))
        subsets[subset] = entries
        sources[subset] = path
    return Annotations(classes=classes, subsets=subsets, sources=sources)
