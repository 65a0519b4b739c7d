"""The ``tbe`` command line: one sub-command per stage.

    tbe info                         versions, device, threads
    tbe be-demo [--video PATH]       Background Erasing on one clip (or a video file's), with a figure
    tbe data synth|lists|prepare     data (embedded benchmark, real-dataset lists, re-encoding)
    tbe pretrain                     self-supervised pretraining (moco, be, be_triplet, pretext)
    tbe finetune [--freeze]          finetuning / linear probe, clip- and video-level results
    tbe retrieve                     Recall@k, kNN, linear and background probes
    tbe compare                      the Random / MoCo / BE table over seeds
    tbe reproduce --profile P        run the book's notebooks and build the site
    tbe view CKPT ... --data DATA    the activation-map viewer on checkpoints, in JupyterLab

Each stage lives in its own module and adds its parser through ``add_cli(subparsers)``.
Under ``torchrun``, use ``python -m tbe_lib.cli ...`` (same arguments).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    import torch

    import tbe_lib

    print(f"tbe_lib {tbe_lib.__version__} | python {platform.python_version()} | torch {torch.__version__}")
    print(
        f"cuda available: {torch.cuda.is_available()}"
        + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
    )
    print(f"cpu threads: {torch.get_num_threads()}")
    try:
        import av

        print(f"PyAV {av.__version__}")
    except ImportError:
        print("PyAV not installed")
    return 0


def _demo_clip(frames: int = 8, size: int = 64, seed: int = 0):
    """A clip with a static natural background (skimage's astronaut) and a moving bright
    square: the smallest case where BE's effect on background vs actor is visible."""
    import numpy as np
    import torch
    from skimage import data as skdata
    from skimage.transform import resize

    bg = resize(skdata.astronaut(), (size, size), anti_aliasing=True).astype(np.float32)  # (H, W, 3) in [0, 1]
    bg = torch.from_numpy(bg).permute(2, 0, 1)  # (3, H, W)
    clip = bg.unsqueeze(1).repeat(1, frames, 1, 1).clone()  # (3, T, H, W)
    s = size // 6
    g = torch.Generator().manual_seed(seed)
    y0 = int(torch.randint(0, size - s, (1,), generator=g))
    xs = torch.linspace(0, size - s - 1, frames).long()
    actor = torch.zeros(frames, size, size, dtype=torch.bool)
    for t in range(frames):  # a demo clip of 8 frames: building it frame by frame is clearest
        clip[:, t, y0 : y0 + s, xs[t] : xs[t] + s] = torch.tensor([1.0, 0.9, 0.1]).view(3, 1, 1)
        actor[t, y0 : y0 + s, xs[t] : xs[t] + s] = True
    return clip, actor


def _cmd_be_demo(args: argparse.Namespace) -> int:
    import torch

    from tbe_lib.augment import background_erasing
    from tbe_lib.viz import be_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(args.seed)
    index = torch.tensor([args.frames // 2])
    if args.video is not None:  # a real video: its centre clip, as the models see it at test time
        from tbe_lib.book.helpers import be_change_levels
        from tbe_lib.data.samples import read_center_clip

        clip = read_center_clip(args.video, args.frames, args.stride, args.size or 112)  # (3, T, S, S) in [0, 1]
        mixed = background_erasing(clip.unsqueeze(0), lam=args.lam, index=index, generator=g)[0]
        fig = be_figure(clip, mixed, lam=args.lam, index=int(index))
        path = out / "be_demo.png"
        fig.savefig(path, dpi=120)
        lv = be_change_levels(clip, mixed)
        print(
            f"[be-demo] wrote {path} ({args.video}: centre clip of {args.frames} frames at stride {args.stride}, "
            f"{clip.shape[-1]}x{clip.shape[-1]})"
        )
        print(
            f"[be-demo] λ={args.lam}, static frame k={int(index)}: mean change {lv['mean']:.2f} grey levels; "
            f"{100 * lv['unchanged']:.1f}% of pixels change by < 1 grey level (they show in frame j what frame k "
            f"shows: a still background), {100 * lv['changed']:.1f}% by >= 5 (motion, camera or actor)"
        )
        return 0
    clip, actor = _demo_clip(args.frames, args.size or 64, args.seed)
    mixed = background_erasing(clip.unsqueeze(0), lam=args.lam, index=index, generator=g)[0]
    diff = (mixed - clip).abs().amax(0)  # (T, H, W)
    ever_actor = actor.any(0).expand_as(actor)  # background pixels never covered by the actor
    bg_change = float(diff[~ever_actor].max())
    fg_change = float(diff[actor].mean())
    fig = be_figure(clip, mixed, lam=args.lam, index=int(index))
    path = out / "be_demo.png"
    fig.savefig(path, dpi=120)
    print(f"[be-demo] wrote {path}")
    print(
        f"[be-demo] λ={args.lam}, static frame k={int(index)}: max change on pure-background pixels = {bg_change:.2e}, "
        f"mean change on actor pixels = {fg_change:.3f}"
    )
    print(
        "[be-demo] with a static camera, intra-video BE leaves the background unchanged ((1-λ)·b + λ·b = b) and only "
        "adds a faint static copy of the actor; whether that removes the background shortcut is measured in the book."
    )
    return 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``tbe`` parser, sub-commands added by their modules. ``only``: load just that
    stage's module (the others are listed by name and help), so ``tbe --help`` and a single
    command do not import every stage."""
    p = argparse.ArgumentParser(prog="tbe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error (also: TBE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    q = sub.add_parser("info", help="versions, device and threads")
    q.set_defaults(func=_cmd_info)

    q = sub.add_parser("be-demo", help="apply Background Erasing to a demo clip (or a video file) and save a figure")
    q.add_argument("--video", default=None, help="a video file: BE on its centre clip (default: a generated clip)")
    q.add_argument("--out", default="runs/be_demo", help="output folder (default: runs/be_demo)")
    q.add_argument("--lam", type=float, default=0.3, help="mixing weight λ (default 0.3, the paper's upper bound)")
    q.add_argument("--frames", type=int, default=8)
    q.add_argument("--stride", type=int, default=2, help="with --video: frame stride of the clip (default 2)")
    q.add_argument("--size", type=int, default=None, help="frame side (default 64; 112 with --video)")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_be_demo)

    for name, (modname, help_text) in _STAGE_COMMANDS.items():
        if only is None or name == only:
            import importlib

            importlib.import_module(modname).add_cli(sub)
        else:  # listed for `tbe --help` without importing the stage (and torch)
            sub.add_parser(name, help=help_text)
    return p


# Sub-commands added by their modules (``add_cli(subparsers)``), with their one-line help
# (the same text as the module's; a test checks they agree).
_STAGE_COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("tbe_lib.data.cli", "build the embedded benchmark, list files, re-encode videos"),
    "pretrain": ("tbe_lib.pretrain", "self-supervised pretraining (moco, be, be_triplet, pretext)"),
    "finetune": ("tbe_lib.finetune", "finetune (or --freeze: linear probe) and evaluate"),
    "retrieve": ("tbe_lib.retrieve", "retrieval Recall@k, kNN, linear and background probes on frozen features"),
    "compare": ("tbe_lib.compare", "the comparison table: Random / MoCo / BE (+ references), over seeds"),
    "reproduce": ("tbe_lib.book", "execute the book's notebooks (papermill) and build the site (jupyter-book)"),
    "view": ("tbe_lib.viz.launch", "open the activation-map viewer on checkpoints in JupyterLab"),
}


def _command_of(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (its first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tbe`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    argv = [a for a in argv if a != "--debug"]
    command = _command_of(argv)
    parser = build_parser(only=command if command in _STAGE_COMMANDS else "")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    debug = debug or os.environ.get("TBE_DEBUG", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        message = expected_failure(e)
        if message is None or debug:
            raise
        print(f"tbe {args.command}: error: {message} (--debug or TBE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


def expected_failure(e: BaseException) -> str | None:
    """One line for a failure a user can fix (bad input, a diverged run, a full disk, a busy
    run directory, no GPU...), naming the file or value and what to do; None for a bug,
    whose traceback is shown."""
    import errno

    from .data.dataset import TooManyBadFiles
    from .data.decode import DecodeError
    from .train.engine import TrainingDiverged
    from .train.rundir import RunDirBusy

    if isinstance(e, OSError) and not isinstance(e, (FileNotFoundError, FileExistsError)):
        where = e.filename or "the run directory"
        if e.errno == errno.ENOSPC:
            return f"no space left on the device writing {where}: free some disk space, then run again with --resume"
        if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"cannot write {where} ({e.strerror}): choose a writable --run-dir / --out"
        if e.errno in (errno.ENOTDIR, errno.EISDIR):
            return f"{where}: {e.strerror}: a folder is expected where a file is (or the reverse); choose another path"
        return f"{type(e).__name__}: {e}"
    if isinstance(
        e, (FileNotFoundError, FileExistsError, ValueError, DecodeError, TrainingDiverged, TooManyBadFiles, RunDirBusy)
    ):
        lines = [x for x in str(e).strip().splitlines() if x.strip()]
        text = " ".join(x.strip() for x in lines) if lines else type(e).__name__
        if isinstance(e, DecodeError):
            text += "; fix or remove it from the list, or pass --skip-bad-videos to train around unreadable videos"
        return text
    return None


if __name__ == "__main__":
    sys.exit(main())
