"""Kinetics-400 (DeepMind): ``train.csv``, ``validate.csv`` (or ``val.csv``), optional ``test.csv``.

Columns ``label,youtube_id,time_start,time_end,split``. Classes are the train labels sorted
alphabetically (400). The common downloaders name a clip
``<youtube_id>_<time_start:06d>_<time_end:06d>.mp4``, either flat or inside a class folder
(``abseiling/`` or ``air_drumming/``), possibly under split folders: the data root is
walked once and clips are matched by that file name (any video extension), so every such
layout works. Frame folders are matched the same way by folder name.

YouTube clips disappear, so nobody has them all: by default the missing ones are skipped
with a warning, and their number is written in the list header (``# missing: N``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ._common import VIDEO_EXTS, Annotations, Entry, ListBuildError, find_annotation

HINT = (
    "download the Kinetics-400 annotation CSVs (train.csv, validate.csv, test.csv) from DeepMind's Kinetics "
    "page or the CVDF 'kinetics-dataset' repository, and pass their folder as --annotations"
)
SUBDIRS = ("annotations", "kinetics400", "kinetics_400")
_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def clip_name(youtube_id: str, start: float, end: float) -> str:
    """``<youtube_id>_<start:06d>_<end:06d>``, the downloaders' file stem."""
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def _read_csv(path: Path, *, need_label: bool = True) -> list[tuple[str, str, int]]:
    """``(label, clip stem, line)`` rows of one annotation CSV."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        lacking = [c for c in _COLUMNS if c not in cols and (need_label or c != "label")]
        if lacking:
            raise ListBuildError(f"{path}: missing column(s) {lacking}; expected a header '{','.join(_COLUMNS)},split'")
        rows = []
        for row in reader:
            try:
                stem = clip_name(row["youtube_id"], row["time_start"], row["time_end"])
            except (TypeError, ValueError):
                raise ListBuildError(f"{path}:{reader.line_num}: bad time_start/time_end in {row}") from None
            rows.append(((row.get("label") or "").strip(), stem, reader.line_num))
    return rows


def _index(root: Path, wanted: set[str], format: str) -> dict[str, str]:
    """Walk ``root`` once: clip stem -> path relative to root (first in sorted order)."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for d in dirnames:
            if d in wanted:  # a frame folder: never descend into it
                if format == "frames":
                    found.setdefault(d, os.path.normpath(os.path.join(rel_dir, d)))
            else:
                keep.append(d)
        dirnames[:] = keep
        if format == "video":
            for name in sorted(filenames):
                stem, ext = os.path.splitext(name)
                if ext.lower() in VIDEO_EXTS and stem in wanted:
                    found.setdefault(stem, os.path.normpath(os.path.join(rel_dir, name)))
    return found


def build(annotations: Path, root: Path, *, format: str) -> Annotations:
    """Parse the Kinetics-400 CSVs and locate the clips under ``root``."""
    train = find_annotation(annotations, ["train.csv"], dataset="kinetics400", hint=HINT, subdirs=SUBDIRS)
    val = find_annotation(train.parent, ["validate.csv", "val.csv"], dataset="kinetics400", hint=HINT)
    files = {"train": train, "val": val}
    test = train.parent / "test.csv"
    if test.is_file():
        rows = _read_csv(test, need_label=False)
        if rows and all(r[0] for r in rows):  # the original test.csv has no labels: skip it
            files["test"] = test
    parsed = {s: _read_csv(p) for s, p in files.items()}
    classes = sorted({lab for lab, _, _ in parsed["train"]})
    if "" in classes:
        raise ListBuildError(f"{train}: some rows have an empty label")
    label_of = {c: i for i, c in enumerate(classes)}
    subsets: dict[str, list[Entry]] = {}
    stem_of: dict[str, str] = {}  # entry key -> clip stem
    for s, rows in parsed.items():
        entries = []
        for lab, stem, line in rows:
            if lab not in label_of:
                raise ListBuildError(f"{files[s]}:{line}: unknown class name {lab!r} (not a label of {train.name})")
            key = f"{stem}.mp4"
            stem_of[key] = stem
            entries.append(Entry((key,), label_of[lab], f"{files[s].name}:{line}"))
        subsets[s] = entries
    by_stem = _index(Path(root), set(stem_of.values()), format) if Path(root).is_dir() else {}
    located = {key: by_stem[stem] for key, stem in stem_of.items() if stem in by_stem}
    return Annotations(
        classes=classes,
        subsets=subsets,
        sources=files,
        located=located,
        meta={"label_order": "class names sorted alphabetically"},
    )
