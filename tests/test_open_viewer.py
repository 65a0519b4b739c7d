"""The viewer on anyone's checkpoints: ``open_viewer``, ``tbe view``, the explore notebook,
and the viewer's blemishes (panel sizes, all-zero maps, GIF labels)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tbe_lib.cli import main
from tbe_lib.config import DataConfig
from tbe_lib.finetune import FinetuneConfig, finetune
from tbe_lib.methods import MethodConfig
from tbe_lib.pretrain import PretrainConfig, pretrain
from tbe_lib.train import LoopConfig
from tbe_lib.utils import atomic_save, safe_load
from tbe_lib.viz import actor_area_share, open_viewer
from tbe_lib.viz.launch import model_names
from tbe_lib.viz.overlay import _TEXT_ROW, panel_frames
from tbe_lib.viz.viewer import _describe

pytest.importorskip("ipywidgets")
needs_gradcam = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam not installed (pip install 'grad-cam>=1.5.4')",
)

TINY = {"widths": (8, 16), "blocks": (1, 1), "stem_stride": (1, 2, 2)}
ROOT = Path(__file__).resolve().parents[1]


def data_cfg(bench, split):
    return DataConfig(source=str(bench), split=split, frames=4, stride=2, size=32, workers=0, jitter=None, gray_p=0.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, smoke_bench) -> dict[str, Path]:
    """A tiny BE encoder (encoder.pt) and two tiny classifiers finetuned from it / from scratch
    (model.pt), with the library's own training runs (a few steps each)."""
    out = tmp_path_factory.mktemp("runs")
    pretrain(
        PretrainConfig(
            run_dir=str(out / "be"),
            backbone="r3d_tiny",
            backbone_kwargs=dict(TINY),
            batch_size=8,
            device="cpu",
            data=data_cfg(smoke_bench, "pretrain"),
            method=MethodConfig(method="be", queue_size=64),
            loop=LoopConfig(steps=2, checkpoint_every=0, progress="off"),
        )
    )
    for name, init in [("finetune_be", str(out / "be" / "encoder.pt")), ("finetune_random", None)]:
        finetune(
            FinetuneConfig(
                run_dir=str(out / name),
                backbone="r3d_tiny",
                backbone_kwargs=dict(TINY),
                init=init,
                epochs=1,
                batch_size=8,
                device="cpu",
                data=data_cfg(smoke_bench, "train"),
                test_splits=("test_shift",),
                test_clips=1,
                loop=LoopConfig(checkpoint_every=0, progress="off"),
            )
        )
    return {
        "encoder": out / "be" / "encoder.pt",
        "be": out / "finetune_be" / "model.pt",
        "random": out / "finetune_random" / "model.pt",
    }


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


def panels_of(widget) -> list:
    return list(widget.viewer.panels.children)


@needs_gradcam
def test_open_viewer_on_two_checkpoints_draws_panels_of_one_size(runs, smoke_bench):
    long_name = "a finetuned classifier with a rather long name, " * 3
    w = open_viewer(checkpoints={long_name: runs["be"], "random": runs["random"]}, data=smoke_bench, videos=3)
    v = w.viewer
    assert w is v.widget and v.style.method == "gradcam"  # both are classifiers
    assert v.num_videos == 3 and v.masks is not None  # the benchmark's actor masks (its 32x32 frames)
    panels = panels_of(w)
    assert len(panels) == 3  # the clip and two models
    width, height = v.panel_size
    assert (width, height) == (32 * v.scale, 32 * v.scale)
    for box in panels:  # every panel the frame's size, whatever its caption
        caption, image = box.children
        assert box.layout.width == caption.layout.width == image.layout.width == f"{width}px"
        assert image.layout.height == f"{height}px" and caption.layout.height == panels[0].children[0].layout.height
        assert png_size(image.value) == (width, height)
    caption = v.captions[long_name].value  # cut to the panel's width by CSS, whole in the tooltip
    assert "text-overflow:ellipsis" in caption and f'title="{long_name}"' in caption
    assert "actor mass" in v.captions["random"].value and "nan" not in v.captions["random"].value.lower()
    v.video.value = 2  # another video keeps the sizes
    assert v.panel_size == (width, height) and all(box.layout.width == f"{width}px" for box in panels_of(w))


def test_open_viewer_names_run_folders_and_shows_encoders_activation(runs, smoke_bench):
    w = open_viewer(checkpoints=[runs["encoder"].parent, runs["random"]], data=smoke_bench, videos=2)
    v = w.viewer
    assert list(v.models) == ["be", "finetune_random"]  # run folders name the models
    assert v.style.method == "activation" and v.cls.disabled  # an encoder has no class scores
    assert v.video_names[0].startswith("test_shift 0: ")
    assert model_names(["a/x/model.pt", "b/x/model.pt"]) == ["a/x", "b/x"]
    assert model_names(["r/model.pt", "r/encoder.pt"]) == ["r/model.pt", "r/encoder.pt"]


@needs_gradcam
def test_an_all_zero_map_is_explained_not_nan(runs, smoke_bench, tmp_path):
    ckpt = safe_load(runs["random"])
    ckpt["state_dict"]["head.fc.weight"].zero_()  # constant class scores: Grad-CAM is zero everywhere
    atomic_save(ckpt, tmp_path / "flat" / "model.pt")
    w = open_viewer(checkpoints=[tmp_path / "flat" / "model.pt", runs["random"]], data=smoke_bench, videos=1)
    v = w.viewer
    assert float(v.cam(0, "flat").map.abs().max()) == 0.0
    assert np.isnan(v.cam(0, "flat").mass)  # what used to be shown as "actor mass nan (area 0.11, xnan)"
    caption = v.captions["flat"].value
    assert "map is all zero: actor mass undefined" in caption and "nan" not in caption.lower()
    assert "nan" not in v.captions["finetune_random"].value.lower()
    # the static figures' row labels (tbe_lib.viz.static_views) say it too
    area = float(actor_area_share(v.masks[:1])[0])
    label = _describe("flat", v.cam(0, "flat"), v.class_names, area, html=False)
    assert label.splitlines()[-1] == "map all zero" and "nan" not in label.lower()


def test_gif_labels_stay_in_their_panel_and_off_the_frame_counter():
    T, S = 4, 32
    panels = [np.full((T, S, S, 3), 0.5, dtype=np.float32)] * 3
    labels = ["clip", "BE (intra, paper)", "Supervised, unbiased train (ceiling) " * 3]
    frames = panel_frames(panels, labels, gap=4)
    short = panel_frames(panels, ["clip", "a", "b"], gap=4)
    sW = sH = S * (128 // S)  # enlarged to min_height=128
    head = _TEXT_ROW
    assert frames.shape == short.shape == (T, head + sH + _TEXT_ROW, 3 * sW + 2 * 4, 3)
    for p in range(len(panels) - 1):  # the gap between two panels' labels stays white: nothing spills over
        x = (p + 1) * (sW + 4) - 4
        assert (frames[:, :head, x : x + 4] == 255).all()
    # the counter has a row of its own below the panels, the same whatever the labels
    assert np.array_equal(frames[:, head + sH :], short[:, head + sH :])
    assert not (frames[:, head + sH :] == 255).all()
    assert len({f.tobytes() for f in frames}) == T  # frames stay distinct (GIF writers merge equal ones)
    # the long label is cut: its panel's header is the same as for a label of the panel's width
    assert (frames[0, :head, 2 * (sW + 4) + sW - 2 :] == 255).all()


def test_tbe_view_print_writes_a_notebook_for_the_checkpoints(runs, smoke_bench, tmp_path, capsys):
    out = tmp_path / "nb" / "view.ipynb"
    rc = main(["view", str(runs["be"]), str(runs["random"].parent), "--data", str(smoke_bench), "--out", str(out)]
              + ["--videos", "2", "--print"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"lab {out}" in printed and "jupyter" in printed
    nb = nbformat.read(str(out), as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert str(runs["be"]) in params.source and str(runs["random"]) in params.source  # folders resolved to files
    assert str(smoke_bench) in params.source and "split = 'test_shift'" in params.source
    # the notebook's code opens the viewer on them
    scope: dict = {}
    exec(params.source, scope)
    code = [c.source for c in nb.cells if c.cell_type == "code" and c is not params]
    exec(code[-1].replace("open_viewer(", "widget = open_viewer("), scope)
    assert list(scope["widget"].viewer.models) == ["finetune_be", "finetune_random"]


@pytest.mark.parametrize(
    "bad, message",
    [
        ("missing/model.pt", "checkpoint not found"),
        ("empty_run", "is a folder without model.pt or encoder.pt"),
        ("notes.pt", "could not load checkpoint"),
    ],
)
def test_tbe_view_bad_checkpoint_is_one_line_exit_2(runs, smoke_bench, tmp_path, capsys, bad, message):
    (tmp_path / "empty_run").mkdir()
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    rc = main(["view", str(runs["be"]), str(tmp_path / bad), "--data", str(smoke_bench), "--print",
               "--out", str(tmp_path / "v.ipynb")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("tbe view: error: ") and message in err and str(tmp_path / bad) in err
    assert not (tmp_path / "v.ipynb").exists()


@pytest.mark.slow
def test_explore_notebook_executes_headless(smoke_bench, tmp_path):
    """notebooks/explore.ipynb with no checkpoints: it trains two tiny encoders on the smoke
    data and opens the viewer (papermill, as `tbe reproduce` runs the chapters; ~20 s)."""
    pytest.importorskip("papermill")
    from tbe_lib.book.runner import execute_stage

    params = {"data": str(smoke_bench), "train_dir": str(tmp_path / "train"), "tiny_steps": 2, "videos": 2}
    out = execute_stage(
        "explore", ROOT / "notebooks" / "explore.ipynb", tmp_path / "out", params, project_root=tmp_path,
        log_output=False,
    )  # fmt: skip
    assert (tmp_path / "train" / "moco_2steps" / "encoder.pt").is_file()
    assert (tmp_path / "train" / "be_2steps" / "encoder.pt").is_file()
    nb = nbformat.read(str(out), as_version=4)
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown)


def test_tbe_view_starts_jupyterlab_without_a_browser_where_there_is_no_display(
    runs, smoke_bench, tmp_path, monkeypatch, capsys
):
    import tbe_lib.viz.launch as launch

    started = []
    monkeypatch.setattr(launch.subprocess, "call", lambda cmd: started.append(cmd) or 0)
    monkeypatch.setattr(launch.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "view.ipynb"
    assert main(["view", str(runs["be"]), "--data", str(smoke_bench), "--out", str(out)]) == 0
    [cmd] = started
    assert cmd[1:] == ["lab", str(out), "--no-browser"] and Path(cmd[0]).name == "jupyter"
    assert "open the URL JupyterLab prints" in capsys.readouterr().out
