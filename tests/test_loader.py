"""Clip loader: decoding (seek correctness), sampling, views, bad input, DataLoader determinism.

Test videos are made here with PyAV. Frame ``i`` of video ``v`` shows the number
``v * 64 + i`` as 16 black/white 8x8 blocks (bits), which survives lossy coding, so every
decoded frame tells which video and frame it is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torchvision.io import encode_jpeg

from tbe_lib.augment.video import VideoAugment
from tbe_lib.data.dataset import BE_VIEWS, MOCO_VIEWS, ClipBatch, ClipDataset, ClipSampler, build_loader, collate_clips
from tbe_lib.data.decode import DecodeError, FrameCountError, probe_num_frames, read_frames_clip, read_video_clip
from tbe_lib.data.listfile import VideoRecord, write_list
from tbe_lib.data.sampling import (
    ShortVideoError,
    center_clip,
    clip_indices,
    other_time_clip,
    random_clip,
    uniform_clips,
)

SIZE = 32
# torchvision 0.29 deprecates its image codecs (used here to write test JPEGs)
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding:DeprecationWarning")


def frame_image(code: int, size: int = SIZE) -> np.ndarray:
    bits = (code >> np.arange(16)) & 1
    blocks = bits.reshape(4, 4).astype(np.uint8) * 200 + 28
    img = np.kron(blocks, np.ones((size // 4, size // 4), np.uint8))
    return np.repeat(img[:, :, None], 3, axis=2)  # (H, W, 3)


def frame_codes(clip: torch.Tensor) -> list[int]:
    """(C, T, H, W) uint8 -> the code shown by each frame."""
    g = clip.float().mean(0)  # (T, H, W)
    t, h, w = g.shape
    bits = g.reshape(t, 4, h // 4, 4, w // 4).mean((2, 4)).reshape(t, 16) > 128
    return (bits.long() * (1 << torch.arange(16))).sum(1).tolist()


def make_video(path: Path, n: int, vid: int = 0, codec: str = "mpeg4", options: dict | None = None) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25, options=options or {})
        s.width = s.height = SIZE
        s.pix_fmt = "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frame_image(vid * 64 + i), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def make_frames(folder: Path, n: int, vid: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = torch.from_numpy(frame_image(vid * 64 + i)).permute(2, 0, 1).contiguous()
        (folder / f"img_{i + 1:05d}.jpg").write_bytes(encode_jpeg(img, quality=95).numpy().tobytes())
    return folder


CODECS = {
    "mpeg4_gop4.mp4": ("mpeg4", {"g": "4", "qscale": "2", "bf": "2"}),  # B-frames, seek overshoot case
    "x264_default.mp4": ("libx264", {"crf": "10"}),  # default GOP (one keyframe here)
    "x264_gop8.mkv": ("libx264", {"crf": "10", "g": "8"}),  # mkv: no frame count in the header
    "mpeg4_gop5.avi": ("mpeg4", {"g": "5", "qscale": "2"}),
}
N_FRAMES = [40, 48, 30, 36, 44]  # per video of the dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("clips")
    codec_files = {name: make_video(root / name, 40, 0, *CODECS[name]) for name in CODECS}
    vids, frames = [], []
    for v, n in enumerate(N_FRAMES):
        make_video(root / f"v{v}.mp4", n, v, "mpeg4", {"g": "4", "qscale": "2"})
        make_frames(root / "frames" / f"v{v}", n, v)
        vids.append(VideoRecord(f"v{v}.mp4", v % 2))
        frames.append(VideoRecord(f"frames/v{v}", v % 2, n))
    video_list = write_list(root / "video.txt", vids, format="video")
    frame_list = write_list(root / "frames.txt", frames, format="frames", template="img_{:05d}.jpg")
    return dict(root=root, codec_files=codec_files, video_list=video_list, frame_list=frame_list)


def codes_of(sample_clip: torch.Tensor) -> np.ndarray:
    """(..., C, T, H, W) -> codes (..., T)."""
    flat = sample_clip.reshape(-1, *sample_clip.shape[-4:])
    return np.array([frame_codes(c) for c in flat]).reshape(*sample_clip.shape[:-4], sample_clip.shape[-3])


# --------------------------------------------------------------------------------------
# decoding


@pytest.mark.parametrize("name", list(CODECS))
def test_video_seek_returns_requested_frames(data, name):
    path = data["codec_files"][name]
    assert probe_num_frames(path) == 40  # mkv has no frame count in its header: counted
    for t in range(40):  # every single frame: seek to the keyframe before it, decode to it
        assert frame_codes(read_video_clip(path, [t])) == [t], (name, t)
    rng = np.random.default_rng(0)
    for _ in range(10):  # unsorted, repeated, far apart (several seeks per clip)
        idx = rng.integers(0, 40, size=8)
        clip = read_video_clip(path, idx)
        assert clip.shape == (3, 8, SIZE, SIZE) and clip.dtype == torch.uint8
        assert frame_codes(clip) == idx.tolist(), name
    assert frame_codes(read_video_clip(path, [38, 39, 0, 1])) == [38, 39, 0, 1]  # looped clip


def test_video_resize_and_frame_count_error(data):
    path = data["codec_files"]["mpeg4_gop4.mp4"]
    clip = read_video_clip(path, [3, 4], resize=16)
    assert clip.shape == (3, 2, 16, 16)
    with pytest.raises(FrameCountError) as e:
        read_video_clip(path, [38, 45])
    assert e.value.available == 40 and str(path) in str(e.value)


def test_frames_reader_and_both_formats_agree(data):
    root = data["root"]
    idx = np.array([5, 6, 7, 30, 2])
    jpg = read_frames_clip(root / "frames" / "v1", idx)
    vid = read_video_clip(root / "v1.mp4", idx)
    assert jpg.shape == vid.shape == (3, 5, SIZE, SIZE)
    assert frame_codes(jpg) == frame_codes(vid) == (64 + idx).tolist()
    assert (jpg.float() - vid.float()).abs().mean() < 8  # same content, two lossy codecs
    # through the datasets, deterministic centre clips
    sampler = ClipSampler(frames=8, stride=2, mode="center")
    a = ClipDataset(data["video_list"], sampler)[2]
    b = ClipDataset(data["frame_list"], sampler)[2]
    assert a.clip.shape == b.clip.shape == (3, 8, SIZE, SIZE)
    start = (N_FRAMES[2] - 15) // 2
    assert frame_codes(a.clip) == frame_codes(b.clip) == [128 + start + 2 * k for k in range(8)]
    assert (a.label, a.index) == (b.label, b.index) == (0, 2)


def test_resize_in_dataset(data):
    for lst in (data["video_list"], data["frame_list"]):
        s = ClipDataset(lst, ClipSampler(frames=4, mode="center"), resize=16)[0]
        assert s.clip.shape == (3, 4, 16, 16)


# --------------------------------------------------------------------------------------
# sampling


def test_random_clip_start_uniform_over_all_valid_starts():
    rng = np.random.default_rng(0)
    n, t, s = 40, 8, 4  # span 29 -> starts 0..11 (the paper's window would give only frame 1)
    starts = {int(random_clip(n, t, s, rng)[0]) for _ in range(600)}
    assert starts == set(range(12))
    clip = random_clip(n, t, s, rng)
    assert np.all(np.diff(clip) == s) and clip[-1] < n


def test_center_uniform_and_other_time():
    assert center_clip(40, 8, 4).tolist() == list(range(5, 34, 4))
    u = uniform_clips(40, 8, 1, 3)
    assert u.shape == (3, 8) and u[:, 0].tolist() == [0, 16, 32] and u[-1, -1] == 39
    assert uniform_clips(40, 8, 1, 1)[0].tolist() == center_clip(40, 8, 1).tolist()
    rng = np.random.default_rng(1)
    for _ in range(50):
        o = other_time_clip(40, 8, 1, anchor_start=10, rng=rng, min_gap=5)
        assert abs(int(o[0]) - 10) >= 5
    # no start far enough: the farthest one
    assert other_time_clip(9, 8, 1, anchor_start=0, rng=rng, min_gap=5)[0] == 1


def test_short_videos():
    rng = np.random.default_rng(0)
    assert center_clip(5, 8, 1).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]  # loop (default)
    assert center_clip(5, 4, 2, short="pad").tolist() == [0, 2, 4, 4]
    assert {int(random_clip(5, 8, 1, rng)[0]) for _ in range(200)} == set(range(5))  # any start loops
    assert uniform_clips(5, 8, 1, 2)[:, 0].tolist() == [0, 2]
    with pytest.raises(ShortVideoError, match="5 frames"):
        random_clip(5, 8, 1, rng, short="error")
    with pytest.raises(ShortVideoError):
        clip_indices(0, 5, 8, 1, short="error")


def test_multi_clip_test_sampling(data):
    ds = ClipDataset(data["video_list"], ClipSampler(frames=4, stride=2, mode="uniform", num_clips=3))
    s = ds[1]
    assert s.clip.shape == (3, 3, 4, SIZE, SIZE)
    expected = uniform_clips(N_FRAMES[1], 4, 2, 3) + 64
    assert (codes_of(s.clip) == expected).all()


# --------------------------------------------------------------------------------------
# views


def test_be_views(data):
    ds = ClipDataset(data["video_list"], ClipSampler(frames=8, stride=2, views=BE_VIEWS, min_gap=4))
    for i in range(len(ds)):
        s = ds[(i, 123)]
        assert s.clip.shape == (3, 3, 8, SIZE, SIZE)
        assert torch.equal(s.clip[0], s.clip[1])  # same frames, raw
        codes = codes_of(s.clip)
        assert (codes // 64 == i).all()  # all from the same video
        assert abs(int(codes[2, 0]) - int(codes[0, 0])) >= 4  # other time
    # repeatable for a given key, different for another
    assert torch.equal(ds[(0, 5)].clip, ds[(0, 5)].clip)


def test_moco_views_other_video(data):
    ds = ClipDataset(data["frame_list"], ClipSampler(frames=4, views=MOCO_VIEWS))
    others = set()
    for i in range(len(ds)):
        for seed in range(8):
            codes = codes_of(ds[(i, (seed, i))].clip)
            assert (codes[0] == codes[1]).all() and (codes[:2] // 64 == i).all()
            assert (codes[2] // 64 != i).all()  # a different video
            others.add(int(codes[2, 0]) // 64)
    assert len(others) == len(ds)  # every video gets used as "other"


def test_sampler_validation():
    with pytest.raises(ValueError, match="anchor"):
        ClipSampler(views=("same_frames", "anchor"))
    with pytest.raises(ValueError):
        ClipSampler(views=BE_VIEWS, num_clips=2)
    with pytest.raises(ValueError):
        ClipSampler(mode="middle")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# bad input


def _bad_list(root: Path, name: str, records: list[VideoRecord]) -> Path:
    return write_list(root / name, records, format="video")


def test_short_video_error_names_file(data, tmp_path):
    make_video(tmp_path / "short.mp4", 5)
    lst = _bad_list(tmp_path, "l.txt", [VideoRecord("short.mp4", 0)])
    looped = ClipDataset(lst, ClipSampler(frames=8, mode="center"))[0]
    assert frame_codes(looped.clip) == [0, 1, 2, 3, 4, 0, 1, 2]
    with pytest.raises(ShortVideoError, match="short.mp4"):
        ClipDataset(lst, ClipSampler(frames=8, short="error"))[0]


def test_missing_and_corrupt_files_name_the_file(data, tmp_path):
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    lst = _bad_list(tmp_path, "l.txt", [VideoRecord("missing.mp4", 0), VideoRecord("corrupt.mp4", 1)])
    ds = ClipDataset(lst, ClipSampler(frames=4))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        ds[0]
    with pytest.raises(DecodeError, match="corrupt.mp4"):
        ds[1]
    # a frame folder with fewer frames than its list line says: the missing frame is named
    folder = make_frames(tmp_path / "f0", 6)
    flist = write_list(tmp_path / "f.txt", [VideoRecord("f0", 0, 10)], format="frames")
    with pytest.raises(FileNotFoundError, match="img_00007.jpg"):
        ClipDataset(flist, ClipSampler(frames=10, mode="center"))[0]
    (folder / "img_00002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DecodeError, match="img_00002.jpg"):
        read_frames_clip(folder, [0, 1, 2])


def test_header_overcount_resamples(data):
    ds = ClipDataset(data["video_list"], ClipSampler(frames=8, stride=4, mode="center"))
    ds._num_frames[0] = 60  # pretend the header says 60 frames; the file has 40
    s = ds[0]
    assert ds.num_frames(0) == 40
    assert frame_codes(s.clip) == list(range(5, 34, 4))  # centre clip of the real 40 frames


@pytest.mark.parametrize("workers", [0, 2])
def test_skip_bad_files_counts(data, tmp_path, workers):
    root = data["root"]
    (tmp_path / "corrupt.mp4").write_bytes(b"garbage" * 100)
    records = [VideoRecord(str(root / f"v{v}.mp4"), v % 2) for v in range(4)]
    records += [VideoRecord("missing.mp4", 0), VideoRecord("corrupt.mp4", 1)]
    lst = _bad_list(tmp_path, "l.txt", records)
    ds = ClipDataset(lst, ClipSampler(frames=4), on_error="skip")
    loader = build_loader(ds, batch_size=3, shuffle=False, workers=workers, seed=0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        batches = list(loader)
    assert sorted(Path(p).name for p in loader.skipped_last_epoch) == ["corrupt.mp4", "missing.mp4"]
    assert any("2 items were replaced because of 2 bad files" in str(x.message) for x in w)
    clips = torch.cat([b.clips for b in batches])
    assert clips.shape == (6, 3, 4, SIZE, SIZE)
    codes = codes_of(clips)
    assert (codes // 64 < 4).all() and (clips.float().mean((1, 2, 3, 4)) > 20).all()  # real clips, no zeros
    idx = torch.cat([b.indices for b in batches])
    assert idx[:4].tolist() == [0, 1, 2, 3] and (idx[4:] < 4).all()  # replacements are good videos
    assert (torch.from_numpy(codes[:, 0]) // 64 == idx).all()
    if workers == 0:
        assert set(Path(p).name for p in ds.bad_files) == {"corrupt.mp4", "missing.mp4"}


# --------------------------------------------------------------------------------------
# loader


def _epoch(loader) -> list[ClipBatch]:
    return list(loader)


def test_loader_deterministic_across_runs_and_workers(data):
    sampler = ClipSampler(frames=4, stride=2, views=BE_VIEWS)

    def run(workers: int, seed: int):
        loader = build_loader(ClipDataset(data["video_list"], sampler), 2, shuffle=True, workers=workers, seed=seed)
        return [_epoch(loader) for _ in range(2)]  # two epochs

    a, b = run(2, seed=7), run(2, seed=7)
    for ea, eb in zip(a, b):
        for x, y in zip(ea, eb):
            assert torch.equal(x.clips, y.clips) and torch.equal(x.indices, y.indices)
            assert x.clips.shape[1:] == (3, 3, 4, SIZE, SIZE)
    c = run(0, seed=7)  # independent of the number of workers
    assert all(torch.equal(x.clips, y.clips) for x, y in zip(a[0], c[0]))
    # epochs differ; another seed differs
    assert not all(torch.equal(x.clips, y.clips) for x, y in zip(a[0], a[1]))
    d = run(2, seed=8)
    assert not all(torch.equal(x.clips, y.clips) for x, y in zip(a[0], d[0]))


def test_loader_order_and_collate(data):
    loader = build_loader(
        ClipDataset(data["frame_list"], ClipSampler(frames=4)), 2, shuffle=False, workers=0, drop_last=True
    )
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    assert torch.cat([b.indices for b in batches]).tolist() == [0, 1, 2, 3]
    assert batches[0].labels.tolist() == [0, 1] and batches[0].labels.dtype == torch.int64
    assert batches[0].clips.dtype == torch.uint8 and batches[0].clips.shape == (2, 3, 4, SIZE, SIZE)
    with pytest.raises(RuntimeError, match="torch.distributed"):
        build_loader(loader.dataset, 2, distributed=True)
    out = collate_clips([loader.dataset[0], loader.dataset[1]])
    assert out.clips.shape == (2, 3, 4, SIZE, SIZE) and out.skipped == []


def test_ram_cache(data):
    sampler = ClipSampler(frames=4, stride=3)
    for lst in (data["video_list"], data["frame_list"]):
        plain, cached = ClipDataset(lst, sampler), ClipDataset(lst, sampler, cache=True)
        for i in range(len(plain)):
            assert torch.equal(plain[(i, 3)].clip, cached[(i, 3)].clip)
        assert len(cached._videos_cache) == len(plain)
        assert cached._videos_cache[1].shape == (3, N_FRAMES[1], SIZE, SIZE)
        again = cached[(1, 9)]  # served from RAM
        assert frame_codes(again.clip)[0] // 64 == 1


def test_transform_in_workers_is_seeded_per_item(data):
    ds = ClipDataset(data["video_list"], ClipSampler(frames=4, views=BE_VIEWS), transform=VideoAugment(16))
    a, b = ds[(1, 3)], ds[(1, 3)]
    assert a.clip.shape == (3, 3, 4, 16, 16) and a.clip.dtype == torch.float32
    assert torch.equal(a.clip, b.clip) and not torch.equal(a.clip, ds[(1, 4)].clip)
    assert not torch.equal(a.clip[0], a.clip[1])  # same frames, independently augmented views
    batch = next(iter(build_loader(ds, 2, workers=0, seed=0)))
    assert batch.clips.shape == (2, 3, 3, 4, 16, 16)


def test_distributed_sampler_single_process_group(data, tmp_path):
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        ds = ClipDataset(data["frame_list"], ClipSampler(frames=4))
        loader = build_loader(ds, 2, shuffle=True, distributed=True, seed=3)
        assert isinstance(loader.sampler.sampler, DistributedSampler)
        e0 = torch.cat([b.indices for b in loader])
        e1 = torch.cat([b.indices for b in loader])  # set_epoch is called for each pass
        assert sorted(e0.tolist()) == sorted(e1.tolist()) == list(range(len(ds)))
        assert loader.epoch == 2 and loader.sampler.sampler.epoch == 1
    finally:
        dist.destroy_process_group()


def test_first_read_opens_each_video_once(data, monkeypatch):
    """The frame count comes from the container the clip is decoded from (no separate probe);
    a container without a count (mkv) is counted first, and the clip is the same either way."""
    import av

    opened = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    sampler = ClipSampler(frames=8, stride=2, mode="center")
    ds = ClipDataset(data["video_list"], sampler)
    for i in range(len(ds)):
        s = ds[i]
        start = (N_FRAMES[i] - 15) // 2
        assert frame_codes(s.clip) == [64 * i + start + 2 * k for k in range(8)]
        assert ds.num_frames(i) == N_FRAMES[i]
    assert len(opened) == len(ds), opened
    opened.clear()
    ds[(0, 1)]  # count known now: one more opening, for the decode only
    assert len(opened) == 1

    mkv = write_list(data["root"] / "mkv.txt", [VideoRecord("x264_gop8.mkv", 0)], format="video")
    opened.clear()
    s = ClipDataset(mkv, sampler)[0]
    assert frame_codes(s.clip) == [(40 - 15) // 2 + 2 * k for k in range(8)] and len(opened) == 3  # try, count, decode
