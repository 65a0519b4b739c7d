"""Build list files for the real datasets from their official annotation files.

    build_lists("ucf101", "ucfTrainTestlist/", "/data/UCF101", split=1)
    # -> {"train": data_lists/ucf101/ucf101_video_train_split1.txt,
    #     "test":  data_lists/ucf101/ucf101_video_test_split1.txt,
    #     "classes": data_lists/ucf101/classes.txt}

Each dataset has a parser in :mod:`tbe_lib.data.builders`; this module dispatches, resolves
the videos (or frame folders) under ``root`` and writes the lists with
:func:`tbe_lib.data.listfile.write_list`. Formats, headers, label orders and the commands
are documented in ``data_lists/README.md``. Every failure is a :class:`ListBuildError`
naming the file involved.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from tbe_lib.data.builders._common import ListBuildError, write_lists

__all__ = ["DATASETS", "DatasetInfo", "ListBuildError", "build_lists", "add_cli"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset accepts: list formats, number of official splits, whether
    annotations are required, and the default for skipping missing videos."""

    formats: tuple[str, ...]
    splits: int
    needs_annotations: bool = True
    allow_missing_default: bool = False
    default_template: str | None = None  # None: detected from the first frame folder
    description: str = ""


DATASETS: dict[str, DatasetInfo] = {
    "ucf101": DatasetInfo(("video", "frames"), 3, description="UCF101: classInd.txt, trainlist0N.txt, testlist0N.txt"),
    "hmdb51": DatasetInfo(
        ("video", "frames"), 3, description="HMDB51: testTrainMulti_7030_splits/<class>_test_splitN.txt"
    ),
    "diving48": DatasetInfo(("video", "frames"), 1, description="Diving48 V2: Diving48_V2_{train,test}.json"),
    "kinetics400": DatasetInfo(
        ("video", "frames"),
        1,
        allow_missing_default=True,
        description="Kinetics-400: train.csv, validate.csv (test.csv if labelled)",
    ),
    "sth_v1": DatasetInfo(
        ("frames",),
        1,
        default_template="{:05d}.jpg",
        description="Something-Something v1: something-something-v1-{labels,train,validation}.csv",
    ),
    "sth_v2": DatasetInfo(
        ("video", "frames"),
        1,
        description="Something-Something v2: something-something-v2-{labels,train,validation}.json",
    ),
    "hmdb51_sta": DatasetInfo(
        ("video", "frames"),
        3,
        needs_annotations=False,
        description="HMDB51-STA: <root>/<class>/<video>, HMDB51 split files optional",
    ),
    "actor_hmdb51": DatasetInfo(
        ("video", "frames"),
        3,
        needs_annotations=False,
        description="Actor-HMDB51: <root>/<class>/<video>, HMDB51 split files optional",
    ),
    "folder": DatasetInfo(
        ("video", "frames"),
        1,
        needs_annotations=False,
        description="any videos laid out as <root>/<class>/<video>: one 'all' list, labels = class folders sorted",
    ),
}


def build_lists(
    dataset: str,
    annotations: str | os.PathLike | None,
    root: str | os.PathLike,
    *,
    split: int = 1,
    out: str | os.PathLike | None = None,
    format: str = "video",
    template: str | None = None,
    allow_missing: bool | None = None,
) -> dict[str, Path]:
    """Write the lists of ``dataset`` (one of :data:`DATASETS`) for one official split.

    Args:
        annotations: folder of the official annotation files (or one file inside it); may
            be ``None`` for ``hmdb51_sta``/``actor_hmdb51`` (every video in one ``all`` list).
        root: folder holding the extracted videos or frame folders; written as the lists'
            ``root`` header (absolute), list paths are relative to it.
        split: official split (1-3 for UCF101/HMDB51 and the HMDB51 variants, else 1).
        out: output folder (default ``data_lists/<dataset>`` in the working directory).
        format: ``"video"`` (``path label``) or ``"frames"`` (``dir num_frames label``).
        template: frame file-name template for ``frames`` (e.g. ``"image_{:05d}.jpg"``);
            default: the dataset's (``{:05d}.jpg`` for sth_v1) or detected on disk.
        allow_missing: skip annotated videos absent under ``root`` (with a warning, count in
            the header) instead of raising; default ``False`` except for Kinetics-400.

    Returns:
        ``{subset: list path}`` for ``train``/``test``/``val`` (or ``all``), plus ``"classes"``:
        the ``classes.txt`` (one class name per line, in label order) written next to them.
    """
    if dataset not in DATASETS:
        raise ListBuildError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    info = DATASETS[dataset]
    if format not in info.formats:
        raise ListBuildError(
            f"{dataset}: format {format!r} is not available (the dataset is distributed as "
            f"{' / '.join(info.formats)}); use --format {info.formats[0]}"
        )
    if not 1 <= split <= info.splits:
        raise ListBuildError(f"{dataset}: split {split} does not exist (official splits: 1..{info.splits})")
    if annotations is None and info.needs_annotations:
        raise ListBuildError(
            f"{dataset}: the official annotation files are required (--annotations); {info.description}"
        )
    ann_path = Path(annotations) if annotations is not None else None
    root = Path(root)
    from tbe_lib.data.builders import diving48, hmdb51, kinetics, sth, ucf101
    from tbe_lib.data.builders._common import class_folders

    if dataset == "ucf101":
        ann = ucf101.build(ann_path, split=split)
    elif dataset == "hmdb51":
        ann = hmdb51.build(ann_path, split=split)
    elif dataset == "diving48":
        ann = diving48.build(ann_path)
    elif dataset == "kinetics400":
        ann = kinetics.build(ann_path, root, format=format)
    elif dataset == "sth_v1":
        ann = sth.build_v1(ann_path)
    elif dataset == "sth_v2":
        ann = sth.build_v2(ann_path)
    elif dataset == "folder":
        if ann_path is not None:
            raise ListBuildError(
                "folder: takes no annotation files; the class is the video's top-level folder under --root"
            )
        ann = class_folders(root, format=format, dataset=dataset)
    else:  # hmdb51_sta, actor_hmdb51
        ann = hmdb51.build_folder(root, ann_path, split=split, format=format, dataset=dataset)
    has_split = info.splits > 1 and "all" not in ann.subsets
    return write_lists(
        ann,
        dataset=dataset,
        root=root,
        out=Path(out) if out is not None else Path("data_lists") / dataset,
        split=split if has_split else None,
        format=format,  # type: ignore[arg-type]
        template=template or info.default_template,
        allow_missing=info.allow_missing_default if allow_missing is None else allow_missing,
    )


def _cmd_lists(args: argparse.Namespace) -> int:
    import warnings

    from tbe_lib.data.listfile import read_list

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = build_lists(
            args.dataset,
            args.annotations,
            args.root,
            split=args.split,
            out=args.out,
            format=args.format or DATASETS[args.dataset].formats[0],
            template=args.template,
            allow_missing=args.allow_missing,
        )
    for w in caught:
        print(f"warning: {w.message}")
    for subset, path in paths.items():
        if subset == "classes":
            n = sum(1 for ln in path.read_text().splitlines() if ln)
            print(f"[lists] {path}: {n} classes")
        else:
            lst = read_list(path)
            skipped = f" ({lst.meta['missing']} missing skipped)" if "missing" in lst.meta else ""
            print(f"[lists] {path}: {len(lst)} {subset} videos{skipped}")
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lists`` sub-command (``tbe data lists <dataset> ...``)."""
    p = subparsers.add_parser(
        "lists",
        help="build list files for a real dataset from its official annotations",
        description=__doc__.split("\n\n")[0]
        + "\n\nDatasets:\n"
        + "\n".join(f"  {k:13s} {v.description}" for k, v in DATASETS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", choices=list(DATASETS))
    p.add_argument(
        "--annotations", help="folder with the official annotation files (optional for hmdb51_sta/actor_hmdb51)"
    )
    p.add_argument("--root", required=True, help="folder with the extracted videos or frame folders")
    p.add_argument("--split", type=int, default=1, help="official split (1-3 for UCF101/HMDB51; default 1)")
    p.add_argument("--out", help="output folder (default: data_lists/<dataset>)")
    p.add_argument(
        "--format",
        choices=("video", "frames"),
        default=None,
        help="'video' files (default) or 'frames' folders (default for sth_v1)",
    )
    p.add_argument(
        "--template",
        help="frame file-name template for --format frames, e.g. image_{:05d}.jpg "
        "(default: detected from the first folder)",
    )
    p.add_argument(
        "--allow-missing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="skip annotated videos missing under --root (default: error, except kinetics400)",
    )
    p.set_defaults(func=_cmd_lists)
