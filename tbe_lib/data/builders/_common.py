"""Shared pieces of the list builders: the error type, the parsed-annotation container,
locating videos / frame folders under the data root, and writing the list files.

A builder (one module per dataset) only parses the official annotation files into a
:class:`Annotations` (class names, and per subset the entries with candidate locations);
:func:`write_lists` then resolves every entry under the data root, counts frames for frame
folders, checks duplicates / empty subsets / missing videos, and writes the lists.
"""

from __future__ import annotations

import json
import os
import re
import string
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

from tbe_lib.data.listfile import DEFAULT_TEMPLATE, VideoRecord, write_list

__all__ = [
    "ListBuildError",
    "Entry",
    "Annotations",
    "find_annotation",
    "template_regex",
    "count_frames",
    "write_lists",
    "class_folders",
    "VIDEO_EXTS",
    "COMMON_TEMPLATES",
]

ListFormat = Literal["video", "frames"]

#: Extensions tried when an annotation's video is not on disk under its own extension
#: (e.g. ``.avi`` listed, ``.mp4`` present after re-encoding).
VIDEO_EXTS: tuple[str, ...] = (".mp4", ".avi", ".webm", ".mkv", ".mov")

#: Frame-name templates tried, in this order, when ``template`` is not given.
COMMON_TEMPLATES: tuple[str, ...] = (
    "img_{:05d}.jpg",
    "image_{:05d}.jpg",
    "frame{:06d}.jpg",
    "{:05d}.jpg",
    "{:06d}.jpg",
    "img_{:05d}.png",
    "frame_{:05d}.jpg",
)

#: How many missing paths an error or warning message lists.
_SHOW = 5


class ListBuildError(ValueError):
    """An annotation file or data root that cannot be turned into a list.

    The message names the offending file (annotation file, or the data root) and says what
    to do about it."""


@dataclass(frozen=True)
class Entry:
    """One video of an annotation file.

    ``candidates`` are locations relative to the data root, most likely first, written as
    video paths (with extension, e.g. ``Class/v_x.avi``); for frame folders the extension is
    stripped (``Class/v_x``). The first one that exists is listed. ``origin`` (``file:line``)
    is used in error messages."""

    candidates: tuple[str, ...]
    label: int
    origin: str


@dataclass
class Annotations:
    """What a builder parsed: class names in label order and the entries of each subset
    (``train``/``test``/``val``, or ``all``), plus the annotation file of each subset."""

    classes: list[str]
    subsets: dict[str, list[Entry]]
    sources: dict[str, Path]
    #: optional pre-located entries (candidate -> relative path), for layouts found by walking
    located: dict[str, str] | None = None
    meta: dict[str, object] = field(default_factory=dict)


def find_annotation(
    annotations: Path, names: Iterable[str], *, dataset: str, hint: str, subdirs: Iterable[str] = ()
) -> Path:
    """The first of ``names`` found in ``annotations`` (a folder, or a file inside it) or
    in one of its ``subdirs``; otherwise a :class:`ListBuildError` saying which file is
    expected, where it was looked for, and where it comes from (``hint``)."""
    names = list(names)
    base = annotations.parent if annotations.is_file() else annotations
    if not base.is_dir():
        raise ListBuildError(
            f"{dataset}: annotation folder {annotations} does not exist; expected it to hold {names[0]} ({hint})"
        )
    for d in (base, *(base / s for s in subdirs)):
        for n in names:
            if (d / n).is_file():
                return d / n
    looked = ", ".join(str(d) for d in (base, *(base / s for s in subdirs)))
    alt = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise ListBuildError(f"{dataset}: annotation file {names[0]}{alt} not found in {looked}; {hint}")


def template_regex(template: str) -> re.Pattern[str]:
    """A regex that full-matches the file names a ``str.format`` frame template produces,
    capturing the index: ``img_{:05d}.jpg`` -> ``img_(\\d{5,})\\.jpg``."""
    parts = list(string.Formatter().parse(template))
    fields = [p for p in parts if p[1] is not None]
    if len(fields) != 1 or fields[0][1] not in ("", "0"):
        raise ListBuildError(
            f"frame template {template!r} must have exactly one positional field, e.g. 'img_{{:05d}}.jpg'"
        )
    out = ""
    for literal, fname, spec, _ in parts:
        out += re.escape(literal)
        if fname is not None:
            m = re.fullmatch(r"0?(\d*)d?", spec or "")
            if m is None:
                raise ListBuildError(
                    f"frame template {template!r}: field spec {spec!r} is not an integer format like '05d'"
                )
            width = int(m.group(1)) if m.group(1) else 1
            out += rf"(\d{{{width},}})"
    return re.compile(out)


def count_frames(folder: str | os.PathLike, template: str) -> tuple[int, bool]:
    """Number of files in ``folder`` matching ``template``, and whether their indices are
    exactly ``1..n`` (what the readers assume)."""
    rx = template_regex(template)
    idx = []
    with os.scandir(folder) as it:
        for e in it:
            m = rx.fullmatch(e.name)
            if m is not None:
                idx.append(int(m.group(1)))
    n = len(idx)
    return n, (n == 0 or (min(idx) == 1 and max(idx) == n))


def _strip_ext(p: str) -> str:
    root, ext = os.path.splitext(p)
    return root if ext.lower() in VIDEO_EXTS else p


def _locate_video(root: Path, cands: tuple[str, ...]) -> str | None:
    for c in cands:
        if (root / c).is_file():
            return c
    for c in cands:  # same stem, another container (e.g. re-encoded .mp4)
        stem = _strip_ext(c)
        for ext in VIDEO_EXTS:
            if (root / (stem + ext)).is_file():
                return stem + ext
    return None


def _locate_frames(root: Path, cands: tuple[str, ...]) -> str | None:
    for c in cands:
        d = _strip_ext(c)
        if (root / d).is_dir():
            return d
    return None


def _detect_template(folder: Path) -> str:
    best, best_n = None, 0
    for t in COMMON_TEMPLATES:
        n, _ = count_frames(folder, t)
        if n > best_n:
            best, best_n = t, n
    if best is None:
        names = sorted(os.listdir(folder))[:3]
        raise ListBuildError(
            f"no frame files matching a known template ({', '.join(COMMON_TEMPLATES)}) in {folder} "
            f"(it holds e.g. {names}); pass the frame name template with --template"
        )
    return best


def class_folders(root: str | os.PathLike, *, format: ListFormat, dataset: str) -> Annotations:
    """Every video (or frame folder) of a tree laid out as ``<root>/<class>/<video>``, in one
    ``all`` subset; labels: the class folders' names sorted alphabetically (0-based)."""
    root = Path(root)
    if not root.is_dir():
        raise ListBuildError(f"{dataset}: data root {root} is not a folder")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ListBuildError(
            f"{dataset}: no class folders in {root}; expected <root>/<class>/<video> (videos: {', '.join(VIDEO_EXTS)})"
        )
    entries: list[Entry] = []
    for label, cls in enumerate(classes):
        for p in sorted((root / cls).iterdir()):
            is_video = p.is_file() and p.suffix.lower() in VIDEO_EXTS
            if (is_video and format == "video") or (p.is_dir() and format == "frames"):
                entries.append(Entry((f"{cls}/{p.name}",), label, f"{cls}/{p.name}"))
    return Annotations(
        classes=classes,
        subsets={"all": entries},
        sources={"all": root},
        meta={"label_order": "class folder names sorted alphabetically"},
    )


def write_lists(
    ann: Annotations,
    *,
    dataset: str,
    root: Path,
    out: Path,
    split: int | None,
    format: ListFormat,
    template: str | None,
    allow_missing: bool,
) -> dict[str, Path]:
    """Resolve every entry of ``ann`` under ``root`` and write one list per subset plus
    ``classes.txt`` into ``out``. Returns ``{subset: list path, ..., "classes": path}``."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ListBuildError(
            f"{dataset}: data root {root} is not a folder; pass the folder holding the extracted videos/frames as --root"
        )
    if format not in ("video", "frames"):
        raise ListBuildError(f"{dataset}: unknown list format {format!r}; use 'video' or 'frames'")
    if template is not None:
        template_regex(template)  # validate early
    resolved: dict[str, list[VideoRecord]] = {}
    missing_counts: dict[str, int] = {}
    seen_keys: dict[str, set[str]] = {}
    for subset, entries in ann.subsets.items():
        src = ann.sources[subset]
        if not entries:
            raise ListBuildError(
                f"{dataset}: the {subset} subset is empty in {src}; check the file and the split number"
            )
        keys: dict[str, str] = {}
        for e in entries:
            k = _strip_ext(e.candidates[0])
            if k in keys:
                raise ListBuildError(
                    f"{dataset}: duplicate entry {e.candidates[0]!r} in {src} ({keys[k]} and {e.origin}); "
                    "each video may appear once per split"
                )
            keys[k] = e.origin
        seen_keys[subset] = set(keys)
        recs: list[VideoRecord] = []
        missing: list[str] = []
        bad_order: list[str] = []
        for e in entries:
            if ann.located is not None:
                rel = ann.located.get(e.candidates[0])
            elif format == "video":
                rel = _locate_video(root, e.candidates)
            else:
                rel = _locate_frames(root, e.candidates)
            if rel is None:
                missing.append(e.candidates[0] if format == "video" else _strip_ext(e.candidates[0]))
                continue
            if format == "frames":
                if template is None:
                    template = _detect_template(root / rel)
                n, contiguous = count_frames(root / rel, template)
                if n == 0:
                    missing.append(f"{rel} (no files matching {template})")
                    continue
                if not contiguous:
                    bad_order.append(rel)
                recs.append(VideoRecord(rel, e.label, n))
            else:
                recs.append(VideoRecord(rel, e.label))
        if missing:
            shown = ", ".join(missing[:_SHOW]) + (", ..." if len(missing) > _SHOW else "")
            what = "videos" if format == "video" else "frame folders"
            if not allow_missing:
                raise ListBuildError(
                    f"{dataset}: {len(missing)} of {len(entries)} {what} of {src.name} ({subset}) are missing under {root}: "
                    f"{shown}. Check --root (and --format/--template), or pass --allow-missing to skip them"
                )
            warnings.warn(
                f"{dataset}: skipped {len(missing)} of {len(entries)} {subset} {what} missing under {root} "
                f"(listed in {src}): {shown}",
                stacklevel=3,
            )
        if not recs:
            raise ListBuildError(
                f"{dataset}: none of the {len(entries)} {subset} entries of {src} were found under {root}"
            )
        if bad_order:
            warnings.warn(
                f"{dataset}: {len(bad_order)} frame folders are not numbered 1..n with {template!r} "
                f"(e.g. {bad_order[0]}); readers assume 1-based contiguous frames",
                stacklevel=3,
            )
        resolved[subset] = recs
        missing_counts[subset] = len(missing)
    subs = list(seen_keys)
    for i, a in enumerate(subs):  # the same video in two subsets is legal but worth a word
        for b in subs[i + 1 :]:
            both = seen_keys[a] & seen_keys[b]
            if both:
                warnings.warn(
                    f"{dataset}: {len(both)} videos are in both {a} and {b} (e.g. {sorted(both)[0]})", stacklevel=3
                )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classes_path = out / "classes.txt"
    tmp = classes_path.with_name(".classes.txt.tmp")
    tmp.write_text("".join(f"{c}\n" for c in ann.classes))
    os.replace(tmp, classes_path)
    written: dict[str, Path] = {}
    for subset, recs in resolved.items():
        name = f"{dataset}_{format}_{subset}" + (f"_split{split}" if split is not None else "") + ".txt"
        meta: dict[str, object] = {"dataset": dataset}
        if split is not None:
            meta["split"] = split
        meta.update(
            subset=subset,
            num_classes=len(ann.classes),
            classes="classes.txt",
            annotations=str(Path(ann.sources[subset]).resolve()),
        )
        if missing_counts[subset]:
            meta["missing"] = missing_counts[subset]
        meta.update(ann.meta)
        written[subset] = write_list(
            out / name,
            recs,
            format=format,
            root=root,
            template=(template or DEFAULT_TEMPLATE) if format == "frames" else None,
            **meta,
        )
    written["classes"] = classes_path
    return written


def load_json(path: Path) -> object:
    """A JSON annotation file (``ListBuildError`` naming the file if it is not valid JSON)."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ListBuildError(f"{path}: not valid JSON ({e})") from None


def load_json_list(path: Path, items: str) -> list:
    """A JSON file holding a list (of ``items``, named in the error when it is not one)."""
    data = load_json(path)
    if not isinstance(data, list):
        raise ListBuildError(f"{path}: expected a JSON list of {items}")
    return data
