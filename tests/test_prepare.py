"""``tbe data prepare`` on tiny PyAV-made videos: size, frame count, keyframe interval,
resumability, frame extraction, bad inputs, process pool and the CLI."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tbe_lib.data.listfile import VideoRecord, read_list, write_list
from tbe_lib.data.prepare import PrepareError, add_cli, prepare

# name -> (width, height, frames, codec, container)
VIDEOS = {
    "walk/a.avi": (96, 64, 30, "mpeg4", "avi"),
    "walk/b.mp4": (64, 96, 20, "libx264", "mp4"),  # portrait
    "run/c.mp4": (80, 48, 25, "libx264", "mp4"),
}


def make_video(path: Path, width: int, height: int, n: int, codec: str, fmt: str, rate: int = 25) -> None:
    """A moving-gradient clip with a single keyframe (gop larger than the clip)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt, s.gop_size = width, height, "yuv420p", 1000
        for t in range(n):
            img = np.stack([(xx * 4 + t * 8) % 256, (yy * 4) % 256, np.full_like(xx, t * 5 % 256)], -1).astype(np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def probe(path: Path) -> tuple[int, int, int, list[int]]:
    """(width, height, decoded frames, keyframe positions in presentation order)."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        packets = sorted((p for p in c.demux(vs) if p.size), key=lambda p: p.pts)
        keys = [i for i, p in enumerate(packets) if p.is_keyframe]
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    return frames[0].width, frames[0].height, len(frames), keys


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path]:
    """The three videos under ``root`` and a video list pointing at them."""
    base = tmp_path_factory.mktemp("prep")
    root = base / "raw"
    for name, spec in VIDEOS.items():
        make_video(root / name, *spec)
    (base / "classes.txt").write_text("run\nwalk\n")
    lst = write_list(
        base / "toy_video_train.txt",
        [VideoRecord(n, 1 if n.startswith("walk") else 0) for n in VIDEOS],
        format="video",
        root=root,
        dataset="toy",
        subset="train",
        num_classes=2,
        classes="classes.txt",
    )
    return lst, root


def test_reencode_size_frames_keyframes(dataset, tmp_path):
    lst, _ = dataset
    res = prepare(lst, tmp_path / "out", short_side=32, gop=8, workers=0, progress=False)
    assert res.written == 3 and res.skipped == 0 and not res.bad
    out = read_list(res.list_path)
    assert res.list_path == (tmp_path / "out" / lst.name).resolve()  # named after the input list
    assert out.format == "video" and out.root == (tmp_path / "out").resolve()
    assert out.meta["dataset"] == "toy" and out.meta["gop"] == "8" and out.meta["short_side"] == "32"
    assert (tmp_path / "out" / "classes.txt").read_text() == "run\nwalk\n"
    assert [(r.path, r.label) for r in out.records] == [("walk/a.mp4", 1), ("walk/b.mp4", 1), ("run/c.mp4", 0)]
    expected_size = {"walk/a.mp4": (48, 32), "walk/b.mp4": (32, 48), "run/c.mp4": (54, 32)}  # aspect kept, even sizes
    for r, (w0, h0, n0, _, _) in zip(out.records, VIDEOS.values()):
        w, h, n, keys = probe(out.resolve(r))
        assert (w, h) == expected_size[r.path]
        assert n == n0  # no fps change: every source frame kept
        assert keys == list(range(0, n, 8))  # fixed GOP of 8, no scene-cut keyframes
    assert not list((tmp_path / "out").rglob("*.part"))


def test_resume_skips_complete_outputs(dataset, tmp_path):
    lst, _ = dataset
    out = tmp_path / "out"
    prepare(lst, out, short_side=32, workers=0, progress=False)
    done = out / "walk" / "a.mp4"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.mp4")}
    (out / "run" / "c.mp4").unlink()  # as if the first run had been killed before this one
    (out / "run" / ".c.mp4.part").write_bytes(b"half written")
    res = prepare(lst, out, short_side=32, workers=0, progress=False)
    assert (res.written, res.skipped) == (1, 2)
    assert done.stat().st_mtime_ns == before[done]  # untouched
    assert probe(out / "run" / "c.mp4")[2] == 25
    assert not (out / "run" / ".c.mp4.part").exists()
    assert len(read_list(res.list_path)) == 3


def test_extract_frames(dataset, tmp_path):
    lst, _ = dataset
    res = prepare(
        lst,
        tmp_path / "f",
        short_side=40,
        frames=True,
        template="image_{:05d}.jpg",
        jpeg_quality=80,
        workers=0,
        progress=False,
    )
    out = read_list(res.list_path)
    assert res.list_path.name == "toy_frames_train.txt"
    assert out.format == "frames" and out.template == "image_{:05d}.jpg"
    assert [(r.path, r.num_frames) for r in out.records] == [("walk/a", 30), ("walk/b", 20), ("run/c", 25)]
    for r in out.records:
        files = sorted(os.listdir(out.resolve(r)))
        assert (
            len(files) == r.num_frames
            and files[0] == "image_00001.jpg"
            and files[-1] == f"image_{r.num_frames:05d}.jpg"
        )
    assert Image.open(out.resolve(out.records[1]) / "image_00001.jpg").size == (40, 60)
    res2 = prepare(
        lst, tmp_path / "f", short_side=40, frames=True, template="image_{:05d}.jpg", workers=0, progress=False
    )
    assert res2.skipped == 3 and [r.num_frames for r in read_list(res2.list_path).records] == [30, 20, 25]


def test_fps_resampling_and_mpeg4(dataset, tmp_path):
    lst, _ = dataset
    res = prepare(lst, tmp_path / "o", short_side=None, fps=12.5, gop=4, codec="mpeg4", workers=0, progress=False)
    out = read_list(res.list_path)
    w, h, n, keys = probe(out.resolve(out.records[0]))  # 30 frames at 25 fps -> 15 at 12.5 fps
    assert (w, h) == (96, 64) and n == 15
    assert keys[0] == 0 and max(np.diff(keys)) <= 4
    with av.open(str(out.resolve(out.records[0]))) as c:
        assert float(c.streams.video[0].average_rate) == pytest.approx(12.5)


def test_corrupt_input_error_and_skip_bad(dataset, tmp_path):
    lst, root = dataset
    bad = root / "run" / "broken.mp4"
    bad.write_bytes(os.urandom(2048))
    recs = read_list(lst).records + [VideoRecord("run/broken.mp4", 0)]
    lst2 = write_list(tmp_path / "with_bad.txt", recs, format="video", root=root)
    with pytest.raises(PrepareError, match=r"broken\.mp4.*--skip-bad"):
        prepare(lst2, tmp_path / "o", short_side=32, workers=0, progress=False)
    assert not (tmp_path / "o" / "run" / "broken.mp4").exists()
    with pytest.warns(UserWarning, match=r"skipped 1 of 4 unreadable videos: .*broken\.mp4"):
        res = prepare(lst2, tmp_path / "o", short_side=32, workers=2, skip_bad=True, progress=False)  # process pool
    assert len(res.bad) == 1 and res.bad[0][0].endswith("broken.mp4")
    assert res.written + res.skipped == 3
    out = read_list(res.list_path)
    assert len(out) == 3 and out.meta["unreadable_skipped"] == "1"
    assert all(probe(out.resolve(r))[1] in (32, 48) for r in out.records)
    bad.unlink()


def test_folder_glob_input_and_cli(dataset, tmp_path, capsys):
    _, root = dataset
    res = prepare(root, tmp_path / "g", glob="**/*.mp4", short_side=32, workers=0, progress=False)
    out = read_list(res.list_path)
    assert res.list_path.name == "videos.txt"
    assert sorted((r.path, r.label) for r in out.records) == [("run/c.mp4", 0), ("walk/b.mp4", 1)]  # no .avi
    parser = argparse.ArgumentParser(prog="tbe data")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["prepare", str(root), str(tmp_path / "g"), "--short-side", "32", "--workers", "0"])
    assert args.func(args) == 0
    assert "1 written, 2 already done" in capsys.readouterr().out  # the .avi is new, the two .mp4 are resumed
    with pytest.raises(PrepareError, match="gop"):
        prepare(root, tmp_path / "x", gop=0)
    with pytest.raises(PrepareError, match="nowhere"):
        prepare(tmp_path / "nowhere", tmp_path / "x")
