"""The activation-map viewer on anyone's checkpoints, from Python or the command line.

* :func:`open_viewer`: the :class:`~tbe_lib.viz.viewer.CamViewer` widget for checkpoints
  written by ``tbe pretrain`` (``encoder.pt``) or ``tbe finetune`` (``model.pt``) on the
  videos of a list file or an embedded-benchmark folder. Checkpoints record their
  architecture (:func:`tbe_lib.models.model_from_checkpoint`), and the clip geometry (frames,
  stride, size) is read from the ``config.json`` of the first checkpoint's run folder.
* ``tbe view CKPT [CKPT ...] --data DATA``: writes a small notebook that calls
  :func:`open_viewer` with those arguments (:func:`viewer_notebook`) and starts JupyterLab
  on it; ``--print`` only writes it and prints the command that opens it.

    from tbe_lib.viz import open_viewer
    open_viewer(checkpoints=["runs/moco/encoder.pt", "runs/be/encoder.pt"], data="data/synth")
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from .viewer import CamViewer, MapStyle

__all__ = [
    "open_viewer",
    "checkpoint_viewer",
    "resolve_checkpoint",
    "model_names",
    "viewer_notebook",
    "jupyter_command",
    "add_cli",
]

#: Run-folder files a checkpoint is looked for in, in order (a finetuned classifier first).
CHECKPOINT_FILES = ("model.pt", "encoder.pt")
#: Clip geometry when no run ``config.json`` says (and the data is not the embedded benchmark).
DEFAULT_FRAMES, DEFAULT_STRIDE, DEFAULT_SIZE = 16, 1, 112

Checkpoints = Sequence[str | os.PathLike] | Mapping[str, str | os.PathLike]


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file: ``path`` itself, or the ``model.pt`` / ``encoder.pt`` of a run folder.
    ``FileNotFoundError`` (one line, saying what to give) otherwise."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        for name in CHECKPOINT_FILES:
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(
            f"checkpoint: {p} is a folder without {' or '.join(CHECKPOINT_FILES)}; give the encoder.pt of a "
            "`tbe pretrain` run or the model.pt of a `tbe finetune` run (or their run folder)"
        )
    raise FileNotFoundError(
        f"checkpoint not found: {p}; give the encoder.pt of a `tbe pretrain` run or the model.pt of a "
        "`tbe finetune` run (or their run folder)"
    )


def model_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Short distinct names for checkpoint files: their run folder's name (``be/encoder.pt`` ->
    ``be``), with as many parent folders as it takes to tell them apart, and the file's name
    when two share a folder."""
    parts = [Path(p).parts[:-1] or (".",) for p in paths]
    names = [Path(p).name for p in paths]
    for depth in range(1, max(len(x) for x in parts) + 1):
        names = ["/".join(x[-depth:]) for x in parts]
        if len(set(names)) == len(names):
            return names
    return [f"{n}/{Path(p).name}" if names.count(n) > 1 else n for n, p in zip(names, paths)]


def _run_config(checkpoint: Path) -> dict[str, Any]:
    """The ``config.json`` of the checkpoint's run folder (``{}`` without one)."""
    f = checkpoint.parent / "config.json"
    try:
        return json.loads(f.read_text()) if f.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _benchmark_width(data: Path) -> int | None:
    """The frame width of an embedded-benchmark folder (``None`` for anything else)."""
    from tbe_lib.data.synth import load_manifest

    manifest = load_manifest(data) if data.is_dir() else None
    return int(manifest["config"]["width"]) if manifest else None


def _default_split(data: Path) -> str:
    """``test_shift`` on the embedded benchmark (the book's maps), else ``test``, else a list's name."""
    lists = sorted(x.stem for x in (data / "lists").glob("*.txt")) if data.is_dir() else []
    return next((s for s in ("test_shift", "test") if s in lists), lists[0] if lists else "test")


def checkpoint_viewer(
    *,
    checkpoints: Checkpoints,
    data: str | os.PathLike,
    split: str | None = None,
    videos: int = 8,
    frames: int | None = None,
    stride: int | None = None,
    size: int | None = None,
    resize: int | None = None,
    root: str | os.PathLike | None = None,
    masks: bool | None = None,
    method: str | None = None,
    device: str = "cpu",
    scale: int | None = None,
) -> CamViewer:
    """The :class:`CamViewer` of :func:`open_viewer` (same arguments), to drive from Python."""
    from tbe_lib.data.listfile import class_names, read_list, resolve_list
    from tbe_lib.data.synth import SPLITS
    from tbe_lib.experiment.cam import CamClips, load_clips  # not at the top: tbe_lib.experiment imports viz
    from tbe_lib.models import model_from_checkpoint
    from tbe_lib.utils import resolve_device

    from .cam import classifier_layer, set_cam_layer

    if isinstance(checkpoints, (str, os.PathLike)):
        checkpoints = [checkpoints]
    if isinstance(checkpoints, Mapping):
        named = {str(k): resolve_checkpoint(v) for k, v in checkpoints.items()}
    else:
        files = [resolve_checkpoint(c) for c in checkpoints]
        named = dict(zip(model_names(files), files))
    if not named:
        raise ValueError("open_viewer: no checkpoints; give checkpoints=['RUN/encoder.pt', 'RUN/model.pt', ...]")
    data_path = Path(data).expanduser()
    split = split or _default_split(data_path)
    list_file = resolve_list(data_path, split)  # FileNotFoundError saying how to make the data

    run = next((c for c in map(_run_config, named.values()) if c), {})
    clip_cfg = run.get("data", {})
    width = _benchmark_width(data_path)
    size = size or clip_cfg.get("size") or width or DEFAULT_SIZE
    if masks is None:  # the embedded benchmark's actor masks, when the clips keep its frame size
        masks = width == size and split in SPLITS
    cc = CamClips(
        data=str(data_path),
        split=split,
        n_videos=int(videos),
        frames=int(frames or clip_cfg.get("frames") or DEFAULT_FRAMES),
        stride=int(stride or clip_cfg.get("stride") or DEFAULT_STRIDE),
        size=int(size),
        resize=resize or run.get("eval_resize") or clip_cfg.get("resize"),
        root=str(root) if root is not None else clip_cfg.get("root"),
        masks=bool(masks),
    )
    clips, _labels, actor = load_clips(cc)  # (N, 3, T, S, S) uint8, (N,), (N, T, S, S) bool or None
    if len(clips) == 0:
        raise ValueError(f"open_viewer: {list_file} lists no videos")

    dev = resolve_device(device)
    models = {}
    for name, path in named.items():
        model = model_from_checkpoint(path).eval().to(dev)
        set_cam_layer(model, clips.shape[1:])  # the deepest stage with >= 4x4 maps
        models[name] = model
    if method is None:  # Grad-CAM needs class scores: encoders show their feature activation
        method = "gradcam" if all(classifier_layer(m) is not None for m in models.values()) else "activation"
    paths = [r.path for r in read_list(list_file, root=cc.root).records[: len(clips)]]
    viewer = CamViewer(
        clips,
        models,
        class_names=class_names(list_file),
        masks=actor,
        style=MapStyle(method=method),
        scale=scale,
        video_names=[f"{split} {i}: {Path(p).stem}" for i, p in enumerate(paths)],
    )
    viewer.checkpoints = named
    return viewer


def open_viewer(
    *,
    checkpoints: Checkpoints,
    data: str | os.PathLike,
    split: str | None = None,
    videos: int = 8,
    frames: int | None = None,
    stride: int | None = None,
    size: int | None = None,
    resize: int | None = None,
    root: str | os.PathLike | None = None,
    masks: bool | None = None,
    method: str | None = None,
    device: str = "cpu",
    scale: int | None = None,
):
    """The activation-map viewer (an ipywidgets ``VBox``; display it in JupyterLab) of
    ``checkpoints`` on the first ``videos`` videos of ``split`` of ``data``.

    Args:
        checkpoints: ``encoder.pt`` (``tbe pretrain``) / ``model.pt`` (``tbe finetune``) files
            or their run folders, named after their folders; or a dict name -> file.
        data: a list file, a list template with ``{split}``, or an embedded-benchmark folder.
        split: the list of a folder / template (default: ``test_shift`` on the benchmark, else
            ``test``).
        frames, stride, size, resize, root: the clips' geometry (default: the first
            checkpoint's run ``config.json``; else 16 frames, stride 1, the benchmark's frame
            size or 112).
        masks: outline the actor and measure the maps' actor mass (default: on the embedded
            benchmark when the clips keep its frame size).
        method: ``"gradcam"`` (default when every model is a classifier), ``"cam"`` or
            ``"activation"`` (default otherwise: pretraining encoders have no class scores).
        device: where the models run (``"cpu"``, ``"cuda"``, ``"auto"``).
        scale: enlarge frames this many times (default: to >= 160 px).

    The :class:`CamViewer` behind the widget is its ``viewer`` attribute (its controls can be
    set from Python)."""
    viewer = checkpoint_viewer(
        checkpoints=checkpoints,
        data=data,
        split=split,
        videos=videos,
        frames=frames,
        stride=stride,
        size=size,
        resize=resize,
        root=root,
        masks=masks,
        method=method,
        device=device,
        scale=scale,
    )
    widget = viewer.widget
    widget.viewer = viewer
    return widget


# ------------------------------------------------------------------------------ tbe view
def viewer_notebook(path: str | os.PathLike, *, command: str = "", **kwargs: Any) -> Path:
    """Write a notebook to ``path`` whose parameters cell holds ``kwargs`` (the arguments of
    :func:`open_viewer`, plain values) and whose next cell opens the viewer. ``command``: the
    command line that made it (shown in its first cell)."""
    import nbformat

    params = "\n".join(f"{k} = {v!r}" for k, v in kwargs.items())
    call = ", ".join(f"{k}={k}" for k in kwargs)
    intro = (
        "# Activation maps of your checkpoints\n\n"
        "Pick a video, the models and the class; scrub the frames and set the overlay's opacity. "
        "Maps are Grad-CAM for classifiers (`model.pt` of `tbe finetune`) and the feature activation "
        "for pretraining encoders (`encoder.pt`), which have no class scores. Change the parameters "
        "below and run all cells to look at other checkpoints or videos."
        + (f"\n\nWritten by `{command}`." if command else "")
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(intro),
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f"from tbe_lib.viz import open_viewer\n\nopen_viewer({call})"),
    ]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    return out


def jupyter_command(notebook: str | os.PathLike, *, no_browser: bool = False) -> list[str]:
    """``jupyter lab NOTEBOOK`` with the ``jupyter`` of this interpreter's environment (the
    project's ``.venv``) when it has one."""
    exe = Path(sys.executable).with_name("jupyter")
    return [str(exe) if exe.is_file() else "jupyter", "lab", str(notebook), *(["--no-browser"] if no_browser else [])]


def _has_display() -> bool:
    """False on a Linux machine without a graphical session (a server: no browser to open)."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _cmd_view(args: argparse.Namespace) -> int:
    from tbe_lib.data.listfile import resolve_list
    from tbe_lib.models import model_from_checkpoint

    files = [resolve_checkpoint(c).resolve() for c in args.checkpoints]  # one clear line for a bad path
    if args.names and len(args.names) != len(files):
        raise ValueError(f"--names: {len(args.names)} names for {len(files)} checkpoints; give one per checkpoint")
    for f in files:  # a file that is no checkpoint, or records no architecture: said here, not in the notebook
        model_from_checkpoint(f)
    data = Path(args.data).expanduser().resolve()
    split = args.split or _default_split(data)
    resolve_list(data, split)  # the data must be there before anything is written
    kwargs: dict[str, Any] = {
        "checkpoints": dict(zip(args.names, map(str, files))) if args.names else [str(f) for f in files],
        "data": str(data),
        "split": split,
        "videos": args.videos,
    }
    words = [*map(str, files), "--data", str(data), "--split", split, "--videos", str(args.videos)]
    for key in ("frames", "stride", "size", "method", "device"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
            words += [f"--{key}", str(kwargs[key])]
    command = "tbe view " + shlex.join(words + (["--names", *args.names] if args.names else []))
    notebook = viewer_notebook(args.out, command=command, **kwargs)
    no_browser = args.no_browser or not _has_display()
    cmd = jupyter_command(notebook, no_browser=no_browser)
    print(f"[view] wrote {notebook} ({len(files)} checkpoint(s), {args.videos} videos of {split} of {data})")
    if args.print:
        print(f"[view] open it with: {shlex.join(cmd)}")
        return 0
    if no_browser:
        print("[view] no browser here: open the URL JupyterLab prints (e.g. through ssh -L 8888:localhost:8888)")
    print(f"[view] {shlex.join(cmd)}", flush=True)
    try:
        return subprocess.call(cmd)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{cmd[0]} not found: install JupyterLab in this environment (make setup, or pip install jupyterlab), "
            f"then open {notebook}"
        ) from None
    except KeyboardInterrupt:
        return 0


def add_cli(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``tbe view`` to ``subparsers`` (handler in ``func``)."""
    p = subparsers.add_parser(
        "view",
        help="open the activation-map viewer on checkpoints in JupyterLab",
        description="Write a notebook that opens the activation-map viewer (tbe_lib.viz.open_viewer) on "
        "CHECKPOINTS (encoder.pt of tbe pretrain, model.pt of tbe finetune, or their run folders) and the "
        "videos of --data, then start JupyterLab on it (--print: only write it and print the command).",
    )
    p.add_argument("checkpoints", nargs="+", help="encoder.pt / model.pt files, or run folders holding one")
    p.add_argument("--data", required=True, help="a list file, a list template with {split}, or a benchmark folder")
    p.add_argument("--split", default=None, help="list of --data (default: test_shift on the benchmark, else test)")
    p.add_argument("--videos", type=int, default=8, help="first videos of the split to show (default: %(default)s)")
    p.add_argument("--names", nargs="+", default=None, help="one name per checkpoint (default: run folder names)")
    p.add_argument("--frames", type=int, default=None, help="clip length (default: the run's config.json)")
    p.add_argument("--stride", type=int, default=None, help="frame stride (default: the run's config.json)")
    p.add_argument("--size", type=int, default=None, help="crop size (default: the run's config.json)")
    p.add_argument(
        "--method", choices=["gradcam", "cam", "activation"], default=None, help="default: gradcam for classifiers"
    )
    p.add_argument("--device", default=None, help="where the models run (default: cpu)")
    p.add_argument("--out", default="runs/view/view.ipynb", help="the notebook to write (default: %(default)s)")
    p.add_argument("--no-browser", action="store_true", help="start JupyterLab without opening a browser")
    p.add_argument("--print", action="store_true", help="only write the notebook and print the command to open it")
    p.set_defaults(func=_cmd_view)
