"""``tbe data prepare``: re-encode a dataset's videos once, small and easy to seek.

Decoding dominates on-the-fly loading, and its cost grows with resolution and with the
distance to the previous keyframe. Re-encoding once to a short side of 128/256 pixels with
a keyframe every ``gop`` frames (8 by default) makes every later epoch cheaper, the way
MMAction2's ``resize_videos`` is used. Optionally writes JPEG frame folders instead.

* H.264 (libx264, ``crf``/``preset``) through PyAV's bundled FFmpeg; MPEG-4 part 2 when
  libx264 is not built in. Fixed GOPs: scene-cut keyframes are disabled, so keyframes are
  exactly every ``gop`` frames. Audio is dropped.
* Resumable: each output is written under a temporary name (``.<name>.part``) and renamed
  when complete, so an existing output is always complete and is skipped on the next run.
* Parallel: a process pool (``workers``), with a ``tqdm`` progress bar.
* Input: a list file (see :mod:`tbe_lib.data.listfile`), or a folder plus a glob (labels =
  index of the top-level class folder in sorted order). Output: the re-encoded videos (or
  frame folders) mirrored under ``out_root`` and a new list file pointing at them.
* A video that cannot be decoded raises :class:`PrepareError` naming the file; with
  ``skip_bad`` it is left out with a warning and counted.

PyAV only (no ffmpeg binary, no OpenCV); JPEGs are written with Pillow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import warnings
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterator

from tbe_lib.data.listfile import DEFAULT_TEMPLATE, VideoList, VideoRecord, read_list, write_list

__all__ = [
    "PrepareError",
    "PrepareOptions",
    "PrepareResult",
    "prepare",
    "reencode_video",
    "extract_frames",
    "default_codec",
    "add_cli",
]

_VIDEO_GLOB_EXTS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")


class PrepareError(ValueError):
    """A video that cannot be re-encoded, or a bad input/option; the message names the file."""


@dataclass(frozen=True)
class PrepareOptions:
    """How each video is processed (picklable: sent to the worker processes).

    ``short_side``: resize so the shorter side has this many pixels (aspect kept; ``None``
    keeps the size); ``fps``: resample to this frame rate by dropping/repeating frames by
    timestamp (``None`` keeps every frame); ``gop``: keyframe interval in frames; ``codec``:
    ``libx264``/``mpeg4`` (``None``: :func:`default_codec`); ``crf``/``preset``: libx264
    quality and speed; ``frames``: write JPEG folders named by ``template`` (1-based) with
    Pillow ``jpeg_quality`` (1-95) instead of videos; ``threads``: codec threads per video
    (0 = FFmpeg's choice)."""

    short_side: int | None = 256
    fps: float | None = None
    gop: int = 8
    codec: str | None = None
    crf: int = 23
    preset: str = "veryfast"
    frames: bool = False
    template: str = DEFAULT_TEMPLATE
    jpeg_quality: int = 90
    threads: int = 0

    def validate(self) -> None:
        if self.short_side is not None and self.short_side < 2:
            raise PrepareError(f"short_side must be >= 2 pixels (or None to keep the size), got {self.short_side}")
        if self.fps is not None and not self.fps > 0:
            raise PrepareError(f"fps must be > 0 (or None to keep every frame), got {self.fps}")
        if self.gop < 1:
            raise PrepareError(f"gop (keyframe interval) must be >= 1, got {self.gop}")
        if not 1 <= self.jpeg_quality <= 95:
            raise PrepareError(f"jpeg_quality must be in 1..95, got {self.jpeg_quality}")
        if self.frames:
            try:
                name = self.template.format(1)
            except (IndexError, KeyError, ValueError):
                name = ""
            if not name or name == self.template or "/" in name:
                raise PrepareError(f"frame template {self.template!r} must contain one field like 'img_{{:05d}}.jpg'")


@dataclass
class PrepareResult:
    """What :func:`prepare` did: the new list, how many outputs were written now, how many
    were already complete (skipped), and the inputs that could not be read."""

    list_path: Path
    written: int = 0
    skipped: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (input path, reason)


def default_codec() -> str:
    """``libx264`` when PyAV's FFmpeg has it, else ``mpeg4``."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


# --------------------------------------------------------------------------- one video
def _target_size(width: int, height: int, short_side: int | None, even: bool) -> tuple[int, int]:
    """Output (width, height): shorter side -> ``short_side``, aspect kept; even sizes for
    4:2:0 video."""
    scale = 1.0 if short_side is None else short_side / min(width, height)
    step = 2 if even else 1
    w = max(step, step * round(width * scale / step))  # the nearest size the codec accepts
    h = max(step, step * round(height * scale / step))
    return w, h


def _frames(src: Path, fps: float | None, threads: int = 0) -> Iterator[tuple["object", float]]:
    """Decoded frames of ``src``'s first video stream (optionally resampled to ``fps``), and
    the source frame rate. Raises :class:`PrepareError` for unreadable files."""
    import av

    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as e:
        raise PrepareError(f"{src}: cannot open ({e})") from None
    with container:
        if not container.streams.video:
            raise PrepareError(f"{src}: no video stream")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        if threads:
            vs.codec_context.thread_count = threads
        rate = float(vs.average_rate or vs.guessed_rate or vs.base_rate or 25)
        if fps is None:
            for frame in container.decode(vs):
                yield frame, rate
            return
        # Resample by timestamp: output slot j (time j/fps) shows the latest input frame
        # whose time is <= j/fps; a frame lasts until the next one (the last one 1/rate).
        prev, t0, j = None, None, 0
        for i, frame in enumerate(container.decode(vs)):
            t = frame.time if frame.time is not None else i / rate
            t0 = t if t0 is None else t0
            t -= t0
            while prev is not None and j / fps < t - 1e-6:
                yield prev, rate
                j += 1
            prev = frame
            last_t = t
        if prev is not None:
            while j / fps < last_t + 1 / rate - 1e-6:
                yield prev, rate
                j += 1


def reencode_video(src: str | os.PathLike, dst: str | os.PathLike, options: PrepareOptions = PrepareOptions()) -> int:
    """Re-encode ``src`` into the MP4 ``dst`` (written to a temporary name, then renamed).
    Returns the number of frames written."""
    import av

    src, dst = Path(src), Path(dst)
    codec = options.codec or default_codec()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part")
    n = 0
    try:
        with av.open(str(tmp), "w", format="mp4") as out:
            stream = None
            for frame, rate in _frames(src, options.fps, options.threads):
                if stream is None:
                    w, h = _target_size(frame.width, frame.height, options.short_side, even=True)
                    out_rate = Fraction(options.fps or rate).limit_denominator(1001)
                    opts = {"sc_threshold": "0" if codec == "libx264" else "1000000000"}
                    if codec == "libx264":
                        opts.update(crf=str(options.crf), preset=options.preset, keyint_min=str(options.gop))
                    else:  # fixed quantiser ~ ffmpeg -q:v 3
                        opts.update({"flags": "+qscale", "global_quality": str(3 * 118)})
                    if options.threads:
                        opts["threads"] = str(options.threads)
                    stream = out.add_stream(codec, rate=out_rate, options=opts)
                    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
                    stream.gop_size = options.gop
                f = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
                f.pts = n
                f.time_base = Fraction(1) / out_rate
                for packet in stream.encode(f):
                    out.mux(packet)
                n += 1
            if stream is None:
                raise PrepareError(f"{src}: no decodable video frames")
            for packet in stream.encode():
                out.mux(packet)
        os.replace(tmp, dst)
    except av.error.FFmpegError as e:
        raise PrepareError(f"{src}: cannot decode/encode ({e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return n


def extract_frames(src: str | os.PathLike, dst: str | os.PathLike, options: PrepareOptions = PrepareOptions()) -> int:
    """Decode ``src`` into the frame folder ``dst`` (``options.template``, 1-based, JPEG),
    written as ``.<name>.part`` and renamed when complete. Returns the number of frames."""
    import av

    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run
    tmp.mkdir(parents=True)
    n = 0
    try:
        for frame, _ in _frames(src, options.fps, options.threads):
            w, h = _target_size(frame.width, frame.height, options.short_side, even=False)
            n += 1
            frame.to_image(width=w, height=h, interpolation="AREA").save(
                tmp / options.template.format(n), quality=options.jpeg_quality
            )
        if n == 0:
            raise PrepareError(f"{src}: no decodable video frames")
        os.replace(tmp, dst)
    except av.error.FFmpegError as e:
        raise PrepareError(f"{src}: cannot decode ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return n


def _job(src: str, dst: str, options: PrepareOptions) -> tuple[str, int | None, str]:
    """Process one video in a worker: ``(status, num_frames, reason)`` with status
    ``written``/``skipped``/``bad``. Never raises for a bad video."""
    d = Path(dst)
    if d.exists():  # complete by construction (renamed from .part only when finished)
        if options.frames:
            return "skipped", sum(1 for _ in d.iterdir()), ""
        return "skipped", None, ""
    if not Path(src).is_file():
        return "bad", None, f"{src}: file not found"
    try:
        n = extract_frames(src, d, options) if options.frames else reencode_video(src, d, options)
    except PrepareError as e:
        return "bad", None, str(e)
    except Exception as e:  # a decoder failing in an unforeseen way is still a bad video
        return "bad", None, f"{src}: {type(e).__name__}: {e}"
    return "written", n, ""


# --------------------------------------------------------------------------- a dataset
def _output_names(lst: VideoList) -> list[str]:
    """Where each input of a list is mirrored under the output root: a relative entry keeps its
    path; an absolute one its path relative to the list's root when inside it, else relative
    to the folder that all such absolute entries share."""
    base = lst.root.resolve() if lst.root is not None else None
    outside = [
        Path(r.path)
        for r in lst.records
        if Path(r.path).is_absolute() and not (base is not None and Path(r.path).is_relative_to(base))
    ]
    common = Path(os.path.commonpath(outside)) if outside else None
    if common is not None and len(outside) == 1:
        common = common.parent
    names = []
    for r in lst.records:
        p = Path(r.path)
        if not p.is_absolute():
            names.append(str(p))
        elif base is not None and p.is_relative_to(base):
            names.append(str(p.relative_to(base)))
        else:
            names.append(str(p.relative_to(common)))  # type: ignore[arg-type]
    return names


def _inputs(
    src: Path, root: str | os.PathLike | None, glob: str | None
) -> tuple[list[VideoRecord], list[Path], dict[str, str], str]:
    """Records (``path``: where the output goes, relative to the output root), the input file
    of each (resolved as every command resolves list entries: :meth:`VideoList.resolve`), the
    header meta, and a phrase saying where relative inputs are looked for (for errors)."""
    if src.is_file():
        if glob is not None:
            raise PrepareError(f"--glob is for a folder input, but {src} is a list file")
        lst = read_list(src, root)
        if lst.format != "video":
            raise PrepareError(f"{src}: a {lst.format} list; prepare re-encodes video files (a 'video' list)")
        recs = [VideoRecord(name, r.label) for name, r in zip(_output_names(lst), lst.records)]
        where = (
            f"listed in {src}; relative paths are read from {lst.root} (the list's folder, its '# root:' "
            "header, or --root)"
        )
        return recs, [lst.resolve(r) for r in lst.records], dict(lst.meta), where
    if not src.is_dir():
        raise PrepareError(f"input {src} is neither a list file nor a folder")
    files = sorted(
        p for p in src.glob(glob or "**/*") if p.is_file() and (glob or p.suffix.lower() in _VIDEO_GLOB_EXTS)
    )
    if not files:
        raise PrepareError(f"no videos matching {glob or '**/*.<video ext>'} under {src}")
    rels = [p.relative_to(src) for p in files]
    classes = sorted({r.parts[0] for r in rels if len(r.parts) > 1})
    label_of = {c: i for i, c in enumerate(classes)}
    recs = [VideoRecord(str(r), label_of.get(r.parts[0], 0) if len(r.parts) > 1 else 0) for r in rels]
    meta = {"labels": "top-level folder, sorted"} if classes else {}
    if classes:
        meta["num_classes"] = str(len(classes))
    return recs, [src / r.path for r in recs], meta, f"found under {src}"


def prepare(
    src: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    short_side: int | None = 256,
    fps: float | None = None,
    gop: int = 8,
    codec: str | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    frames: bool = False,
    template: str = DEFAULT_TEMPLATE,
    jpeg_quality: int = 90,
    root: str | os.PathLike | None = None,
    glob: str | None = None,
    list_out: str | os.PathLike | None = None,
    workers: int | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> PrepareResult:
    """Re-encode (or extract frames of) every video of ``src`` into ``out_root`` and write
    a list file pointing at the outputs.

    Args:
        src: a ``video`` list file (``root`` overrides its header root), or a folder whose
            files matching ``glob`` (default: every video extension, recursively) are used.
        out_root: output folder; each output mirrors its input's relative path (``.mp4``,
            or a folder without extension for ``frames``).
        short_side, fps, gop, codec, crf, preset, frames, template, jpeg_quality: see
            :class:`PrepareOptions`.
        list_out: the new list (default ``out_root/<input list name>``, with ``_video_``
            -> ``_frames_`` for frames; ``out_root/videos.txt``/``frames.txt`` for a folder).
        workers: processes (default: CPU count; 0 or 1 runs in this process).
        skip_bad: leave unreadable videos out (warning + count) instead of raising.

    Returns:
        A :class:`PrepareResult`. Existing outputs are skipped (resumable).
    """
    options = PrepareOptions(
        short_side=short_side,
        fps=fps,
        gop=gop,
        codec=codec or default_codec(),
        crf=crf,
        preset=preset,
        frames=frames,
        template=template,
        jpeg_quality=jpeg_quality,
    )
    options.validate()
    import av

    if options.codec not in av.codecs_available:
        raise PrepareError(f"codec {options.codec!r} is not available in PyAV's FFmpeg; use libx264 or mpeg4")
    src, out_root = Path(src), Path(out_root).resolve()
    records, sources, meta, where = _inputs(src, root, glob)
    outs = [str(Path(r.path).with_suffix("" if frames else ".mp4")) for r in records]
    seen: dict[str, str] = {}
    for r, o in zip(records, outs):
        if o in seen:
            raise PrepareError(f"{r.path} and {seen[o]} would both be written to {out_root / o}; rename one of them")
        seen[o] = r.path
    if list_out is None:
        if src.is_file():
            name = src.name.replace("_video_", "_frames_") if frames else src.name
        else:
            name = "frames.txt" if frames else "videos.txt"
        list_out = out_root / name
    list_out = Path(list_out)

    jobs = [(str(s), str(out_root / o), options) for s, o in zip(sources, outs)]
    results: list[tuple[str, int | None, str] | None] = [None] * len(jobs)
    from tqdm.auto import tqdm

    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers > 1:  # one video per process: keep each codec from spawning a thread per core
        options = replace(options, threads=max(1, (os.cpu_count() or 1) // workers))
    bar = tqdm(total=len(jobs), unit="video", desc="prepare", disable=not progress)

    def _record(i: int, res: tuple[str, int | None, str]) -> None:
        results[i] = res
        bar.update(1)
        if res[0] == "bad" and not skip_bad:
            if not sources[i].is_file():
                raise PrepareError(
                    f"video file not found: {sources[i]} ({where}); fix the path or the root, "
                    "or pass --skip-bad to leave missing videos out"
                )
            raise PrepareError(f"{res[2]}; fix or remove it, or pass --skip-bad to leave unreadable videos out")

    try:
        if workers <= 1:
            for i, job in enumerate(jobs):
                _record(i, _job(*job))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                futures = {pool.submit(_job, *job): i for i, job in enumerate(jobs)}
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in done:
                        try:
                            _record(futures[fut], fut.result())
                        except PrepareError:
                            for p in pending:
                                p.cancel()
                            raise
    finally:
        bar.close()

    result = PrepareResult(list_path=list_out)
    kept: list[VideoRecord] = []
    for r, o, res, source in zip(records, outs, results, sources):
        status, n, reason = res  # type: ignore[misc]
        if status == "bad":
            result.bad.append((str(source), reason))
            continue
        result.written += status == "written"
        result.skipped += status == "skipped"
        kept.append(VideoRecord(o, r.label, n if frames else None))
    if result.bad:
        shown = "; ".join(reason for _, reason in result.bad[:3])
        warnings.warn(f"skipped {len(result.bad)} of {len(records)} unreadable videos: {shown}", stacklevel=2)
    if not kept:
        raise PrepareError(f"none of the {len(records)} videos of {src} could be read")
    for k in ("format", "root", "template", "missing"):
        meta.pop(k, None)
    meta.update(
        prepared_from=str(src.resolve()),
        short_side=str(short_side),
        fps=str(fps or "source"),
        **({} if frames else {"gop": str(gop), "codec": options.codec}),
    )
    if result.bad:
        meta["unreadable_skipped"] = str(len(result.bad))
    if src.is_file() and "classes" in meta and (src.parent / meta["classes"]).is_file():
        list_out.parent.mkdir(parents=True, exist_ok=True)
        if (src.parent / meta["classes"]).resolve() != (list_out.parent / meta["classes"]).resolve():
            shutil.copyfile(src.parent / meta["classes"], list_out.parent / meta["classes"])
    write_list(
        list_out,
        kept,
        format="frames" if frames else "video",
        root=out_root,
        template=template if frames else None,
        **meta,
    )
    return result


# --------------------------------------------------------------------------- CLI
def _cmd_prepare(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = prepare(
            args.src,
            args.out,
            short_side=None if args.short_side == 0 else args.short_side,
            fps=args.fps,
            gop=args.gop,
            codec=None if args.codec == "auto" else args.codec,
            crf=args.crf,
            preset=args.preset,
            frames=args.frames,
            template=args.template,
            jpeg_quality=args.jpeg_quality,
            root=args.root,
            glob=args.glob,
            list_out=args.list_out,
            workers=args.workers,
            skip_bad=args.skip_bad,
        )
    for w in caught:
        print(f"warning: {w.message}")
    print(
        f"[prepare] {res.written} written, {res.skipped} already done, {len(res.bad)} unreadable skipped; "
        f"list: {res.list_path}"
    )
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` sub-command (``tbe data prepare SRC OUT ...``)."""
    p = subparsers.add_parser(
        "prepare",
        help="re-encode videos (small, short keyframe interval) or extract frames, resumably",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("src", help="a video list file, or a folder of videos (see --glob)")
    p.add_argument("out", help="output root folder")
    p.add_argument("--root", help="override the input list's root folder")
    p.add_argument("--glob", help="for a folder input: pattern of the videos (default: all video files, recursive)")
    p.add_argument("--list-out", help="path of the new list file (default: OUT/<input list name>)")
    p.add_argument("--short-side", type=int, default=256, help="shorter side in pixels (0 keeps the size; default 256)")
    p.add_argument("--fps", type=float, default=None, help="output frame rate (default: keep every source frame)")
    p.add_argument("--gop", type=int, default=8, help="keyframe interval in frames (default 8)")
    p.add_argument(
        "--codec",
        default="auto",
        choices=("auto", "libx264", "mpeg4"),
        help="video codec (auto: libx264 if PyAV has it, else mpeg4)",
    )
    p.add_argument("--crf", type=int, default=23, help="libx264 quality (lower is better; default 23)")
    p.add_argument("--preset", default="veryfast", help="libx264 preset (default veryfast)")
    p.add_argument("--frames", action="store_true", help="write JPEG frame folders instead of videos")
    p.add_argument("--template", default=DEFAULT_TEMPLATE, help=f"frame file names (default {DEFAULT_TEMPLATE})")
    p.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality 1-95 (default 90)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--skip-bad", action="store_true", help="leave unreadable videos out (warning and count)")
    p.set_defaults(func=_cmd_prepare)
