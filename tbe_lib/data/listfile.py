"""List files: one video per line, shared by the real datasets and the embedded benchmark.

Two formats (documented in ``data_lists/README.md``):

* ``video``:  ``relative/path/to/video.mp4 <label>``
* ``frames``: ``relative/frame_dir <num_frames> <label>`` (the paper's column order), with the
  frame file-name template (e.g. ``img_{:05d}.jpg``, 1-based) stored in the header.

A list may start with header lines ``# key: value`` (``format``, ``template``, ``root``,
``dataset``, ``split``, ``classes``...). Lists without a header (like the paper's) are read
too: two columns mean ``video``, three mean ``frames``. Labels are 0-based integers.

Where a listed path points (:meth:`VideoList.resolve`, the one rule every command uses:
``tbe pretrain``/``finetune``/``retrieve``/``compare`` through the dataset, ``tbe data
prepare`` for its inputs):

1. an absolute path is kept as it is;
2. a relative path is joined to the list's root, which is (:func:`list_root`) the root passed
   to the reader (``--root``) if any, else the ``# root:`` header (itself relative to the
   list's folder when it is a relative path), else the list's own folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal

__all__ = [
    "resolve_list",
    "VideoRecord",
    "VideoList",
    "read_list",
    "write_list",
    "class_names",
    "list_root",
    "ListFormatError",
]

ListFormat = Literal["video", "frames"]
DEFAULT_TEMPLATE = "img_{:05d}.jpg"


class ListFormatError(ValueError):
    """A list file that cannot be parsed; the message names the file and line."""


@dataclass(frozen=True)
class VideoRecord:
    """One line of a list: ``path`` (relative or absolute), ``label``, and for frame
    folders the number of frames."""

    path: str
    label: int
    num_frames: int | None = None


@dataclass
class VideoList:
    """A parsed list file: its records and header metadata."""

    records: list[VideoRecord]
    format: ListFormat
    root: Path | None = None
    template: str = DEFAULT_TEMPLATE
    meta: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def __len__(self) -> int:
        return len(self.records)

    def resolve(self, record: VideoRecord) -> Path:
        """Location of a record's video file or frame folder: its path if absolute, else
        joined to the list's :attr:`root` (see the module docstring). Every command reads
        list entries through this method."""
        p = Path(record.path)
        if p.is_absolute() or self.root is None:
            return p
        return self.root / p

    @property
    def num_classes(self) -> int:
        if "num_classes" in self.meta:
            return int(self.meta["num_classes"])
        return 1 + max((r.label for r in self.records), default=-1)


def read_list(
    path: str | os.PathLike, root: str | os.PathLike | None = None, *, allow_empty: bool = False
) -> VideoList:
    """Read a list file (either format, with or without header).

    ``root`` overrides the header's ``root``; when neither is given, paths are relative to
    the list file's folder. Raises :class:`ListFormatError` naming the file and line for a
    malformed line, and for an empty list unless ``allow_empty``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"list file not found: {path}")
    meta: dict[str, str] = {}
    records: list[VideoRecord] = []
    first_line: dict[str, int] = {}  # path -> line it was first listed on
    fmt: str | None = None
    for lineno, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):  # -sig: drops a BOM
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            if ":" in body and not records:
                k, v = body.split(":", 1)
                meta[k.strip()] = v.strip()
            continue
        fmt = fmt or meta.get("format")
        parts = line.rsplit(maxsplit=2)
        if fmt is None:
            fmt = "frames" if len(parts) == 3 and parts[1].isdigit() else "video"
        if fmt == "video" and len(parts) == 3 and parts[1].isdigit():
            raise ListFormatError(
                f"{path}:{lineno}: {raw!r} has 3 columns, but a video list has 2 ('<path> <label>'); remove the extra "
                "column, or declare '# format: frames' for frame folders ('<frame_dir> <num_frames> <label>')"
            )
        try:
            if fmt == "video":
                p, lab = line.rsplit(maxsplit=1)
                records.append(VideoRecord(p, int(lab)))
            elif fmt == "frames":
                p, n, lab = parts
                records.append(VideoRecord(p, int(lab), int(n)))
            else:
                raise ListFormatError(f"{path}: unknown list format {fmt!r} in header (expected 'video' or 'frames')")
        except ValueError as e:
            if isinstance(e, ListFormatError):
                raise
            expected = "<path> <label>" if fmt == "video" else "<frame_dir> <num_frames> <label>"
            raise ListFormatError(
                f"{path}:{lineno}: cannot parse {raw!r} as a {fmt} list line, expected '{expected}' "
                "with integer label (and frame count); check the column order"
            ) from None
        if records[-1].label < 0:
            raise ListFormatError(f"{path}:{lineno}: negative label in {raw!r}; labels are 0-based")
        if records[-1].path in first_line:
            raise ListFormatError(
                f"{path}:{lineno}: {records[-1].path} is listed again (first on line "
                f"{first_line[records[-1].path]}); remove the duplicate line"
            )
        first_line[records[-1].path] = lineno
        n_classes = _declared_classes(meta)
        if n_classes is not None and records[-1].label >= n_classes:
            raise ListFormatError(
                f"{path}:{lineno}: label {records[-1].label} in {raw!r} is outside the "
                f"{n_classes} classes the header declares (labels are 0..{n_classes - 1})"
            )
    if not records and not allow_empty:
        raise ListFormatError(f"{path}: the list is empty (no video lines); check the split or the builder's output")
    return VideoList(
        records=records,
        format=(fmt or meta.get("format") or "video"),  # type: ignore[arg-type]
        root=list_root(path, meta.get("root"), root),
        template=meta.get("template", DEFAULT_TEMPLATE),
        meta=meta,
        source=path,
    )


def _declared_classes(meta: dict[str, str]) -> int | None:
    """The number of classes a list's header declares (``num_classes``, or ``classes`` as
    comma-separated names), None when it does not."""
    if meta.get("num_classes", "").isdigit():
        return int(meta["num_classes"])
    if "," in meta.get("classes", ""):
        return len(meta["classes"].split(","))
    return None


def list_root(
    list_file: str | os.PathLike, header_root: str | None = None, root: str | os.PathLike | None = None
) -> Path:
    """The folder a list's relative paths are joined to: ``root`` when given (e.g. ``--root``,
    relative to the working directory), else the header's ``# root:`` (relative to the list's
    folder when not absolute), else the list's folder."""
    if root is not None:
        return Path(root)
    folder = Path(list_file).parent
    if header_root:
        return folder / header_root  # an absolute header root replaces the folder
    return folder


def write_list(
    path: str | os.PathLike,
    records: Iterable[VideoRecord],
    *,
    format: ListFormat,
    root: str | os.PathLike | None = None,
    template: str | None = None,
    **meta: object,
) -> Path:
    """Write a list file with a header. ``meta`` adds more ``# key: value`` lines
    (e.g. ``dataset="ucf101", split=1, num_classes=101``). Written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header: dict[str, object] = {"format": format}
    if root is not None:
        header["root"] = str(root)
    if format == "frames":
        header["template"] = template or DEFAULT_TEMPLATE
    header.update(meta)
    lines = [f"# {k}: {v}" for k, v in header.items()]
    for r in records:
        if any(c in r.path for c in "\n\r"):
            raise ValueError(f"path contains a newline: {r.path!r}")
        if format == "frames":
            if r.num_frames is None:
                raise ValueError(f"frames list needs num_frames for {r.path}")
            lines.append(f"{r.path} {r.num_frames} {r.label}")
        else:
            lines.append(f"{r.path} {r.label}")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


def class_names(path: str | os.PathLike) -> list[str] | None:
    """The class names of a list, in label order, or ``None`` when it does not say: the
    header's ``classes`` (comma-separated names, or a file next to the list, as ``tbe data
    lists`` writes ``classes.txt``), else a ``classes.txt`` beside the list."""
    path = Path(path)
    meta = read_list(path).meta
    if "," in meta.get("classes", ""):
        return meta["classes"].split(",")
    f = path.parent / meta.get("classes", "classes.txt")
    return [c for c in f.read_text().splitlines() if c] if f.is_file() else None


def resolve_list(source: str | os.PathLike, split: str) -> Path:
    """A list file: ``source`` itself; ``source`` with ``{split}`` filled in, for a list
    *template* naming every split of a real dataset (e.g.
    ``data_lists/ucf101/ucf101_video_{split}_split1.txt``, as ``tbe data lists`` names them);
    or ``source/lists/<split>.txt`` for a benchmark folder."""
    text = os.fspath(source)
    if "{split}" in text:
        p = Path(text.replace("{split}", split))
        if not p.is_file():
            raise FileNotFoundError(
                f"no {split!r} list: {p} (from the template {text}) does not exist; build the "
                "lists with 'tbe data lists DATASET --annotations ... --root ...' (data_lists/README.md)"
            )
        return p
    p = Path(source)
    if p.is_dir():
        lst = p / "lists" / f"{split}.txt"
        if not lst.is_file():
            raise FileNotFoundError(
                f"{p} has no list {lst.relative_to(p)}; is it a folder made by 'tbe data synth'? "
                f"Available: {sorted(x.name for x in (p / 'lists').glob('*.txt')) if (p / 'lists').is_dir() else 'none'}"
            )
        return lst
    if not p.exists():
        raise FileNotFoundError(
            f"data not found: {p}. Build the embedded benchmark with "
            f"'tbe data synth --out {p}' or pass a list file (see data_lists/README.md)"
        )
    return p
