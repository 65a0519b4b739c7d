"""Writing the benchmark to disk (videos, lists, metadata, masks, manifest) and reading it back."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...utils import usable_cpus
from ..listfile import VideoRecord, write_list
from .config import CAMERAS, CLASS_NAMES, PRESETS, SPLITS, SynthConfig, config_for
from .scenes import (
    NEUTRAL_BACKGROUNDS,
    OWN_BACKGROUNDS,
    _digits,
    background_names,
    load_photo,
    photo_side,
    render_video_with_masks,
)
from .writer import resolve_codec, write_video

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "generate",
    "load_manifest",
    "load_metadata",
    "load_masks",
    "config_hash",
    "video_path",
    "add_cli",
    "SYNTH_VERSION",
]

#: Bump when rendering or layout changes, so existing folders are regenerated.
SYNTH_VERSION = 5  # 2: 32 frames, the actor moves on a torus; 3: its centre in the central band;
# 4: the band is its torus (no frame index tells the class); 5: three quarters of v4's translation speed (scenes.py)
_OURS = ("videos", "lists", "masks", "metadata.csv", "manifest.json")
_JSON_COLUMNS = ("colour", "bboxes")


def config_hash(cfg: SynthConfig, codec: str | None = None) -> str:
    """Hash of everything that determines the folder's content (config, resolved codec,
    class and background names, version): equal hashes mean the folder can be reused."""
    payload = {
        "version": SYNTH_VERSION,
        "config": cfg.to_dict(),
        "codec": codec or resolve_codec(cfg.codec),
        "classes": list(CLASS_NAMES),
        "backgrounds": list(background_names()),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def video_path(split: str, index: int) -> str:
    """Path of a video relative to the output folder."""
    return f"videos/{split}/{index:05d}.mp4"


def _work(
    cfg: SynthConfig, codec: str, out: str, split: str, indices: list[int]
) -> tuple[str, list[int], list[dict], np.ndarray]:
    """Render and encode a chunk of one split; returns its metadata rows and packed masks."""
    metas, masks = [], []
    for i in indices:
        frames, mask, meta = render_video_with_masks(cfg, split, i)
        meta["path"] = video_path(split, i)
        write_video(Path(out) / meta["path"], frames, cfg.fps, codec, cfg.gop, crf=cfg.crf)
        metas.append(meta)
        masks.append(np.packbits(mask, axis=-1))  # (T, H, ceil(W/8))
    return split, indices, metas, np.stack(masks)


def _preload(cfg: SynthConfig) -> None:
    """Load the digits and the photographs once, in the parent: forked workers inherit them."""
    _digits()
    for name in background_names():
        load_photo(name, photo_side(cfg))


def load_manifest(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The folder's ``manifest.json``, or None if there is none."""
    p = Path(out_dir) / "manifest.json"
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not a valid synth manifest ({e}); delete the folder or pass overwrite=True") from e


def _write_manifest(out: Path, cfg: SynthConfig, codec: str, *, complete: bool) -> None:
    manifest = {
        "dataset": "synth",
        "version": SYNTH_VERSION,
        "hash": config_hash(cfg, codec),
        "complete": complete,
        "config": cfg.to_dict(),
        "codec": codec,
        "classes": list(CLASS_NAMES),
        "backgrounds": list(background_names()),
        "own_background": {c: b for c, b in zip(CLASS_NAMES, OWN_BACKGROUNDS)},
        "neutral_backgrounds": list(NEUTRAL_BACKGROUNDS),
        "counts": cfg.counts(),
        "layout": {
            "videos": "videos/{split}/{index:05d}.mp4",
            "lists": "lists/{split}.txt",
            "masks": "masks/{split}.npy (np.packbits over width of bool (N, T, H, W))",
            "metadata": "metadata.csv",
        },
    }
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out / "manifest.json")


def generate(
    out_dir: str | os.PathLike,
    cfg: SynthConfig | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write the benchmark for ``cfg`` (default preset if None) to ``out_dir``; returns it.

    Skips the work when ``out_dir/manifest.json`` says a complete folder with the same
    config hash is already there (unless ``overwrite``). A folder from another config, or
    an interrupted run, is regenerated (only the benchmark's own entries are deleted). A
    non-empty folder without a manifest is refused unless ``overwrite``. ``workers``:
    processes (default: the CPUs available; ``<= 1`` renders in this process). The output
    does not depend on ``workers``."""
    from tqdm.auto import tqdm

    cfg = cfg or PRESETS["default"]
    out = Path(out_dir)
    codec = resolve_codec(cfg.codec)
    manifest = load_manifest(out)
    if manifest is not None and manifest.get("dataset") != "synth" and not overwrite:
        raise FileExistsError(
            f"{out}/manifest.json is not a synth benchmark manifest; refusing to write there. "
            "Choose another folder, or pass overwrite=True (--overwrite)"
        )
    if manifest is not None:
        if manifest.get("complete") and manifest.get("hash") == config_hash(cfg, codec) and not overwrite:
            return out
    elif out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{out} is not empty and has no synth manifest.json; refusing to write the benchmark there. "
            "Choose an empty or new folder, or pass overwrite=True (--overwrite) to write into it anyway"
        )
    for name in _OURS:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, cfg, codec, complete=False)

    workers = usable_cpus() if workers is None else int(workers)
    total = sum(cfg.counts().values())
    chunk = max(4, min(64, math.ceil(total / max(1, workers) / 8)))
    tasks = [
        (split, list(range(s, min(s + chunk, cfg.count(split)))))
        for split in SPLITS
        for s in range(0, cfg.count(split), chunk)
    ]
    metas: dict[str, list[dict]] = {s: [None] * cfg.count(s) for s in SPLITS}  # type: ignore[list-item]
    masks: dict[str, np.ndarray] = {}
    packed_w = (cfg.width + 7) // 8

    def collect(split: str, indices: list[int], rows: list[dict], m: np.ndarray) -> None:
        if split not in masks:
            masks[split] = np.zeros((cfg.count(split), cfg.frames, cfg.height, packed_w), np.uint8)
        for i, row in zip(indices, rows):
            metas[split][i] = row
        masks[split][indices] = m
        bar.update(len(indices))

    _preload(cfg)
    with tqdm(total=total, desc=f"synth {out.name}", unit="video", disable=not progress) as bar:
        if workers <= 1:
            for split, idx in tasks:
                collect(*_work(cfg, codec, str(out), split, idx))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_work, cfg, codec, str(out), split, idx) for split, idx in tasks]
                for f in as_completed(futures):
                    collect(*f.result())

    header = dict(
        dataset="synth",
        num_classes=cfg.num_classes,
        classes=",".join(CLASS_NAMES),
        camera=cfg.camera,
        bias=cfg.bias,
        seed=cfg.seed,
        frames=cfg.frames,
        size=f"{cfg.height}x{cfg.width}",
        fps=cfg.fps,
    )
    rows = []
    for split in SPLITS:
        records = [VideoRecord(m["path"], m["label"]) for m in metas[split]]
        write_list(out / "lists" / f"{split}.txt", records, format="video", root="..", split=split, **header)
        (out / "masks").mkdir(exist_ok=True)
        np.save(
            out / "masks" / f"{split}.npy", masks.get(split, np.zeros((0, cfg.frames, cfg.height, packed_w), np.uint8))
        )
        rows.extend(metas[split])
    _write_metadata(out / "metadata.csv", rows)
    _write_manifest(out, cfg, codec, complete=True)
    return out


def _write_metadata(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    first = ["split", "index", "path", "label", "class_name", "background_id", "background_name", "own_background"]
    df = df[first + [c for c in df.columns if c not in first]]
    for c in _JSON_COLUMNS:
        if c in df:
            df[c] = df[c].map(json.dumps)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def load_metadata(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The per-video metadata of a generated folder, one row per video (all splits), with
    ``colour`` and ``bboxes`` (per frame ``[x0, y0, x1, y1]``, inclusive pixels, ``-1``
    when the actor is out of view) parsed back to lists."""
    import pandas as pd

    p = Path(out_dir) / "metadata.csv"
    if not p.is_file():
        raise FileNotFoundError(f"{p} not found; generate the benchmark first (tbe data synth --out {out_dir})")
    df = pd.read_csv(p)
    for c in _JSON_COLUMNS:
        if c in df:
            df[c] = df[c].map(json.loads)
    return df


def load_masks(out_dir: str | os.PathLike, split: str) -> np.ndarray:
    """Actor masks of a split, bool (N, T, H, W), row ``i`` = video ``index == i``."""
    out = Path(out_dir)
    manifest = load_manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"{out}/manifest.json not found; generate the benchmark first")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}, expected one of {SPLITS}")
    width = manifest["config"]["width"]
    packed = np.load(out / "masks" / f"{split}.npy")
    return np.unpackbits(packed, axis=-1, count=width).astype(bool)


# --------------------------------------------------------------------------------------- CLI
#: The benchmark's (low, high) settings that ``tbe data synth`` takes as two numbers.
_RANGES = {
    "centre_band": "the band the actor moves in (its torus; where it is at the middle frame), fractions of each "
    "axis; 0 1: the whole frame, v2",
    "speed": "a translating actor's speed, fractions of the frame's short side per frame; benchmark v3 and v4: "
    "0.015 0.03",
}


def add_cli(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``synth`` sub-command (``tbe data synth --out DIR ...``) to ``subparsers``.
    The handler is stored as ``func`` (call ``args.func(args)``); it returns 0."""
    p = subparsers.add_parser(
        "synth",
        help="generate the embedded background-trap benchmark",
        description="Render the background-trap action benchmark (scikit-learn digits moving over "
        "scikit-image photographs) to compressed videos, list files, metadata and masks. "
        "Skips the work when DIR already holds the same config.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--size", choices=sorted(PRESETS), default="default", help="preset (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default: %(default)s)")
    p.add_argument("--camera", choices=CAMERAS, default=None, help="camera motion (preset default: static)")
    p.add_argument("--bias", type=float, default=None, help="P(own background) in biased splits (preset default: 0.9)")
    for name, what in _RANGES.items():
        low, high = getattr(PRESETS["default"], name)
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            nargs=2,
            metavar=("LOW", "HIGH"),
            default=None,
            help=f"{what} (preset default: {low:g} {high:g})",
        )
    p.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    p.add_argument("--overwrite", action="store_true", help="regenerate even if the folder matches")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {"seed": args.seed}
    if args.camera is not None:
        overrides["camera"] = args.camera
    if args.bias is not None:
        overrides["bias"] = args.bias
    for name in _RANGES:
        if getattr(args, name) is not None:
            overrides[name] = tuple(getattr(args, name))
    cfg = config_for(args.size, **overrides)
    out = generate(args.out, cfg, workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite)
    m = load_manifest(out) or {}
    counts = ", ".join(f"{k}={v}" for k, v in cfg.counts().items())
    print(f"synth benchmark in {out} (hash {m.get('hash')}, codec {m.get('codec')}): {counts}")
    return 0
