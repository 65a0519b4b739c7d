"""Overlays, strips, animations (tbe_lib.viz.overlay), the ipywidgets viewer and the static
views for the book (tbe_lib.viz.viewer)."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pytest
import torch

from tbe_lib.models import build_model
from tbe_lib.viz.cam import compute_cam
from tbe_lib.viz.overlay import cam_strip, colorize, overlay, panel_frames, write_animation
from tbe_lib.viz.viewer import PREDICTED, default_preprocess, static_views

needs_gradcam = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam not installed (pip install 'grad-cam>=1.5.4')",
)

T, S = 8, 32


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    """Three uint8 display clips (3, 3, 8, 32, 32) with a bright moving square."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 120, (3, 3, T, S, S), generator=g, dtype=torch.uint8)
    for t in range(T):
        x[:, :, t, 8:16, 4 + t : 12 + t] = 250
    return x


@pytest.fixture(scope="module")
def masks() -> torch.Tensor:
    m = torch.zeros(3, T, S, S, dtype=torch.bool)
    for t in range(T):
        m[:, t, 8:16, 4 + t : 12 + t] = True
    return m


@pytest.fixture(scope="module")
def models() -> dict:
    out = {}
    for seed, name in [(0, "random"), (1, "be")]:
        torch.manual_seed(seed)
        m = build_model(
            "r3d_tiny",
            head="classifier",
            num_classes=4,
            widths=(16, 32, 48, 64),
            stem_stride=(1, 2, 2),
            stem_pool=False,
        )  # (B, 3, 8, 32, 32) -> (B, 64, 1, 2, 2)
        with torch.no_grad():
            m.head.fc.weight.normal_(0.0, 1.0)
        out[name] = m.eval()
    return out


# --------------------------------------------------------------------------------------
# Overlays


def test_overlay_blends_frames_and_colormap(clips):
    cam = torch.rand(T, S, S)
    frames = clips[0].permute(1, 2, 3, 0).float().numpy() / 255
    assert np.allclose(overlay(clips[0], cam, alpha=0.0), frames, atol=1e-6)
    assert np.allclose(overlay(clips[0], cam, alpha=1.0), colorize(cam), atol=1e-6)
    half = overlay(clips[0], cam, alpha=0.5)
    assert half.shape == (T, S, S, 3) and np.allclose(half, 0.5 * frames + 0.5 * colorize(cam), atol=1e-6)
    assert np.allclose(overlay(clips[0, :1], cam, alpha=0.0), np.repeat(frames[..., :1], 3, -1))  # gray clips
    with pytest.raises(ValueError, match="differ"):
        overlay(clips[0], cam[:4])
    with pytest.raises(ValueError, match="alpha"):
        overlay(clips[0], cam, alpha=1.5)


def test_cam_strip_is_a_figure_with_one_row_per_model(clips):
    import matplotlib
    import matplotlib.pyplot as plt

    fig = cam_strip(
        clips[0],
        {"Random": torch.rand(T, S, S), "MoCo": torch.rand(T, S, S), "BE": torch.rand(T, S, S)},
        frames=[0, 3, 7],
    )
    assert isinstance(fig, matplotlib.figure.Figure)
    frames = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]  # and one colour scale
    assert len(frames) == 4 * 3 and len(fig.axes) == 4 * 3 + 1
    assert [ax.get_ylabel() for ax in frames[::3]] == ["clip", "Random", "MoCo", "BE"]
    plt.close(fig)


def test_gif_has_one_frame_per_clip_frame(tmp_path, clips):
    from PIL import Image

    static = clips[0, :, :1].expand(3, T, S, S)  # a still clip and a constant map: equal frames
    panels = [overlay(static, torch.ones(T, S, S), alpha=0.3)] * 2
    frames = panel_frames(panels, ["a", "b"])
    assert frames.dtype == np.uint8 and frames.shape[0] == T and frames.shape[1] >= 128
    path = write_animation(frames, tmp_path / "sub" / "x.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == T  # the t=i/T label keeps frames distinct (GIF writers merge equal frames)
        assert im.size == (frames.shape[2], frames.shape[1])
    with pytest.raises(ValueError, match=".gif or .mp4"):
        write_animation(frames, tmp_path / "x.avi")


def test_mp4_animation(tmp_path, clips):
    av = pytest.importorskip("av")
    frames = panel_frames([overlay(clips[0], torch.rand(T, S, S))], ["m"], scale=3)  # odd width: padded
    path = write_animation(frames, tmp_path / "x.mp4", fps=8)
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == T


# --------------------------------------------------------------------------------------
# The viewer


@needs_gradcam
def test_viewer_caches_maps_and_rerenders(clips, masks, models):
    pytest.importorskip("ipywidgets")
    from tbe_lib.viz.viewer import CamViewer

    names = ["left", "right", "up", "down"]
    v = CamViewer(clips, models, class_names=names, masks=masks)
    assert v.n_computed == 2  # video 0, predicted class, both models
    assert list(v.models_select.value) == ["random", "be"]
    assert len(v.panels.children) == 3  # clip + 2 models
    img0 = {n: v.images[n].value for n in models}
    clip0 = v.clip_image.value
    assert all(img0.values()) and clip0[:4] == b"\x89PNG"
    assert "actor mass" in v.captions["be"].value

    v.frame.value = 3  # re-render only
    assert v.n_computed == 2
    assert all(v.images[n].value != img0[n] for n in models) and v.clip_image.value != clip0
    img3 = {n: v.images[n].value for n in models}
    v.opacity.value = 0.9
    assert v.n_computed == 2 and all(v.images[n].value != img3[n] for n in models)

    # A class other than the predicted one: one new map per model ...
    pred = {n: v.cam(0, n).pred for n in models}
    other = next(k for k in range(4) if all(k != p for p in pred.values()))
    v.cls.value = other
    assert v.n_computed == 4
    # ... the predicted class by name reuses the "predicted" map (same class) ...
    v.cls.value = pred["be"]
    assert v.n_computed == 4 + (pred["random"] != pred["be"])
    n_before = v.n_computed
    v.cls.value = PREDICTED
    v.cls.value = other
    assert v.n_computed == n_before  # everything cached

    # A new video: once per (video, model, class); back to video 0: cached.
    v.video.value = 1
    assert v.n_computed == n_before + 2
    v.video.value = 0
    assert v.n_computed == n_before + 2

    # Deselecting a model hides its panel and computes nothing.
    v.models_select.value = ("be",)
    assert len(v.panels.children) == 2
    v.video.value = 2
    assert v.n_computed == n_before + 3

    # What is shown is the cached map drawn over the frame.
    m = v.cam(2, "be", other)
    ref = compute_cam(models["be"], default_preprocess(clips[2:3]), target_class=other).maps[0]
    assert torch.allclose(m.map, ref, atol=1e-5)


def test_viewer_with_callable_clips_and_label_free_maps(clips):
    pytest.importorskip("ipywidgets")
    from tbe_lib.viz.viewer import CamViewer, MapStyle

    ssl = {"moco": build_model("r3d_tiny", head="projection").eval()}
    calls = []

    def clip(i: int) -> torch.Tensor:
        calls.append(i)
        return clips[i]

    with pytest.raises(ValueError, match="num_videos"):
        CamViewer(clip, ssl, style=MapStyle(method="activation"))
    v = CamViewer(clip, ssl, num_videos=3, style=MapStyle(method="activation"))
    assert v.n_computed == 1 and v.cls.disabled
    v.frame.value = 5
    v.video.value = 2
    v.video.value = 0
    assert v.n_computed == 2 and sorted(set(calls)) == [0, 2] and len(calls) == 2  # clips are read once


# --------------------------------------------------------------------------------------
# Static views


@needs_gradcam
def test_static_views_write_strips_gifs_and_summary(tmp_path, clips, masks, models):
    from PIL import Image

    views = static_views(clips, models, tmp_path, indices=[0, 2], masks=masks, frames=[0, 4, 7])
    assert [v.index for v in views] == [0, 2]
    for v in views:
        assert v.strip.is_file() and v.strip.suffix == ".png"
        with Image.open(v.animation) as im:
            assert im.n_frames == T
        assert set(v.actor_mass) == {"random", "be"} and all(0 <= x <= 1 for x in v.actor_mass.values())
        assert v.actor_area == pytest.approx(64 / 1024)
        assert v.classes == v.predicted  # default: the predicted class
    rows = list(csv.DictReader(open(tmp_path / "summary.csv")))
    assert len(rows) == 4 and {r["model"] for r in rows} == {"random", "be"}
    r = rows[0]
    assert float(r["actor_mass_ratio"]) == pytest.approx(float(r["actor_mass"]) / float(r["actor_area"]), rel=1e-3)
