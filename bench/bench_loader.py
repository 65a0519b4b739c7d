"""Clip loader throughput: our loader (PyAV video / batched JPEG decode in workers, batch
augmentation) vs a per-frame PIL pipeline like the paper's, and vs the raw decoder.

Run:  .venv/bin/python bench/bench_loader.py [--videos 64 --frames 48 --workers 0 2 ...]
      .venv/bin/python bench/bench_loader.py --sizes 128x171 128x228 128x301 128x156   # mixed sizes

It first writes a small data set (``--videos`` clips of ``--frames`` frames at
``--height``x``--width``, or cycling through ``--sizes``, GOP ``--gop``; smooth moving texture
so the codec has real work),
encoded as video files and, with the same decoded content, as JPEG frame folders. Then, for
each worker count, it times whole epochs of 16-frame clips (``--clip``) turned into the same
normalised training batch ``(B, 3, T, size, size)``:

* ``ours/video`` and ``ours/frames``: :class:`ClipDataset` + :func:`build_loader` (workers only
  decode), then :class:`VideoAugment` (random resized crop, flip, full colour jitter,
  grayscale, normalise) on the batch on ``--device`` (CPU here: it competes with the workers);
* ``paper-PIL``: the paper's per-frame pipeline (``original-code.md`` §3.5) in the workers:
  open each JPEG with PIL, rotate (+-10 deg, nearest), resize the short side to
  ``size * 8 / 7`` (bilinear), random crop ``size``, colour jitter (brightness 0.5, contrast
  0.5, saturation 0.25, hue 0.5; like the paper's code all four ops are computed on the
  original frame and only the last is kept), to tensor, normalise;
* ``ours/... aug-in-workers`` (CPU-only variant, workers > 0): the same ``VideoAugment`` run per
  item inside the workers (``ClipDataset(transform=...)``), like the PIL pipeline does; with 0
  workers the same per-item augmentation in the main process (``aug-per-item``). With mixed
  sizes this is the other design for them: crop each clip to the output size *before*
  collating, instead of collating a padded batch (``ClipBatch.sizes``) and cropping it as one;
* ``raw-decode``: just ``read_video_clip`` / ``read_frames_clip`` on the same clip indices in a
  loop, the floor for our loader's own overhead (compared with ``ours`` at 0 workers
  without augmentation: dataset + sampling + collate).

Pipelines are interleaved within each repetition (the machine may be shared) and medians over
``--reps`` epochs are printed, with the ratios to the targets: ours >= 2x paper-PIL at the same
worker count; loader overhead <= 10% over the raw decoder.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tbe_lib.augment.video import IMAGENET_MEAN, IMAGENET_STD, VideoAugment  # noqa: E402
from tbe_lib.data.dataset import ClipDataset, ClipSampler, build_loader, seed_worker  # noqa: E402
from tbe_lib.data.decode import read_frames_clip, read_video_clip  # noqa: E402
from tbe_lib.data.listfile import VideoRecord, read_list, write_list  # noqa: E402
from tbe_lib.data.sampling import random_clip  # noqa: E402

warnings.filterwarnings("ignore", message="The image decoding and encoding", category=DeprecationWarning)


# --------------------------------------------------------------------------------------
# data


def make_dataset(
    root: Path, n_videos: int, n_frames: int, sizes: list[tuple[int, int]], gop: int, codec: str
) -> tuple[Path, Path]:
    from torchvision.io import encode_jpeg

    rng = np.random.default_rng(0)
    records_v, records_f = [], []
    for v in range(n_videos):
        h, w = sizes[v % len(sizes)]
        # smooth random texture, panned over time, plus a moving bright square
        tex = rng.random((h + n_frames * 2, w + n_frames * 3, 3)).astype(np.float32)
        k = 7
        for axis in (0, 1):
            tex = sum(np.roll(tex, s, axis=axis) for s in range(-k, k + 1)) / (2 * k + 1)
        tex = (255 * (tex - tex.min()) / (tex.max() - tex.min() + 1e-6)).astype(np.uint8)
        path = root / f"v{v:03d}.mp4"
        folder = root / "frames" / f"v{v:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as c:
            s = c.add_stream(
                codec, rate=25, options={"g": str(gop)} | ({"crf": "23"} if codec == "libx264" else {"qscale": "4"})
            )
            s.width, s.height, s.pix_fmt = w, h, "yuv420p"
            for i in range(n_frames):
                img = tex[2 * i : 2 * i + h, 3 * i : 3 * i + w].copy()
                y, x = (5 * i) % (h - 20), (7 * i) % (w - 20)
                img[y : y + 20, x : x + 20] = 255
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        # JPEG frames of the *decoded* video: the same content in both formats
        with av.open(str(path)) as c:
            for i, frame in enumerate(c.decode(video=0)):
                t = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1).contiguous()
                (folder / f"img_{i + 1:05d}.jpg").write_bytes(encode_jpeg(t, quality=90).numpy().tobytes())
        records_v.append(VideoRecord(path.name, v % 10))
        records_f.append(VideoRecord(f"frames/{folder.name}", v % 10, n_frames))
    return (
        write_list(root / "videos.txt", records_v, format="video"),
        write_list(root / "frames.txt", records_f, format="frames", template="img_{:05d}.jpg"),
    )


# --------------------------------------------------------------------------------------
# the paper-like per-frame PIL pipeline


class PaperPILClips(Dataset):
    """Per-frame PIL augmentation of JPEG frames, parameters drawn once per clip."""

    def __init__(self, list_path: Path, clip_len: int, stride: int, size: int):
        self.videos = read_list(list_path)
        self.clip_len, self.stride, self.size = clip_len, stride, size
        self.resize = round(size * 8 / 7)
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int):
        from torchvision.transforms import functional as F  # PIL ops, as the paper's code

        rec = self.videos.records[index]
        folder = self.videos.resolve(rec)
        n = rec.num_frames
        start = random.randint(0, max(n - (self.clip_len - 1) * self.stride - 1, 0))
        angle = random.uniform(-10, 10)
        jitter = [
            lambda im, f=random.uniform(0.5, 1.5): F.adjust_brightness(im, f),
            lambda im, f=random.uniform(0.5, 1.5): F.adjust_contrast(im, f),
            lambda im, f=random.uniform(0.75, 1.25): F.adjust_saturation(im, f),
            lambda im, f=random.uniform(-0.5, 0.5): F.adjust_hue(im, f),
        ]
        random.shuffle(jitter)
        crop_xy = None
        frames = []
        for k in range(self.clip_len):
            i = (start + k * self.stride) % n
            img = Image.open(folder / self.videos.template.format(i + 1)).convert("RGB")
            img = img.rotate(angle, resample=Image.NEAREST)
            w, h = img.size
            nw, nh = (self.resize, int(h * self.resize / w)) if w < h else (int(w * self.resize / h), self.resize)
            img = img.resize((nw, nh), Image.BILINEAR)
            if crop_xy is None:
                crop_xy = (random.randint(0, nw - self.size), random.randint(0, nh - self.size))
            x, y = crop_xy
            img = img.crop((x, y, x + self.size, y + self.size))
            for op in jitter:  # the paper's bug: each op on the original frame, the last one kept
                out = op(img)
            frames.append(np.asarray(out))
        clip = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).float().div_(255)  # (C, T, H, W)
        return (clip - self.mean) / self.std, rec.label


# --------------------------------------------------------------------------------------
# timing


def epoch_time(fn) -> float:
    t = time.perf_counter()
    n = fn()
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=int, default=64)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--height", type=int, default=128)
    ap.add_argument("--width", type=int, default=171)
    ap.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="HxW",
        help="frame sizes cycled over the videos (mixed sizes), e.g. 128x171 128x228 128x301 128x156",
    )
    ap.add_argument("--gop", type=int, default=8)
    ap.add_argument(
        "--codec",
        default="mpeg4",
        choices=["mpeg4", "libx264"],
        help="mpeg4 (Xvid-like, as UCF101's AVIs) or libx264 (needs an even width: rounded up)",
    )
    ap.add_argument("--clip", type=int, default=16)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--size", type=int, default=112, help="output crop size")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="auto", help="augmentation device")
    ap.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads of the main process (0: torch's default)"
    )
    ap.add_argument("--root", type=Path, default=None, help="data folder (default: a temporary one)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )

    tmp = tempfile.TemporaryDirectory() if args.root is None else None
    root = Path(tmp.name) if tmp else args.root
    root.mkdir(parents=True, exist_ok=True)
    sizes = [(args.height, args.width)]
    if args.sizes:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    if args.codec == "libx264":
        sizes = [(h + h % 2, w + w % 2) for h, w in sizes]  # x264 with yuv420p needs even sizes
    t0 = time.perf_counter()
    video_list, frame_list = make_dataset(root, args.videos, args.frames, sizes, args.gop, args.codec)
    shown = " / ".join(f"{h}x{w}" for h, w in sizes)
    print(
        f"data: {args.videos} videos x {args.frames} frames {shown} ({args.codec}, gop {args.gop}) "
        f"+ JPEG folders, written in {time.perf_counter() - t0:.1f}s; clips {args.clip}x{args.size}^2 stride "
        f"{args.stride}, batch {args.batch}, augmentation on {device}, torch threads {torch.get_num_threads()}"
    )
    sampler = ClipSampler(frames=args.clip, stride=args.stride)
    aug = VideoAugment(args.size).to(device)
    gen = torch.Generator().manual_seed(0)

    def ours(loader, augment: bool):
        def run() -> int:
            n = 0
            for batch in loader:
                x = batch.clips.to(device, non_blocking=True)  # padded when the batch mixes sizes
                if augment:
                    x = aug(x, generator=gen, sizes=batch.sizes)
                    assert x.shape == (len(batch.clips), 3, args.clip, args.size, args.size)
                n += len(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return n

        return run

    def paper(loader):
        def run() -> int:
            n = 0
            for x, _ in loader:
                assert x.shape == (len(x), 3, args.clip, args.size, args.size)
                n += len(x)
            return n

        return run

    vl, fl = read_list(video_list), read_list(frame_list)
    rng = np.random.default_rng(0)

    def raw(kind: str):
        def run() -> int:
            lst = vl if kind == "video" else fl
            for rec in lst.records:
                path = lst.resolve(rec)
                idx = random_clip(args.frames, args.clip, args.stride, rng)
                if kind == "video":
                    read_video_clip(path, idx)
                else:
                    read_frames_clip(path, idx, template=lst.template)
            return len(lst)

        return run

    pipelines: dict[str, object] = {"raw-decode/video w0": raw("video"), "raw-decode/frames w0": raw("frames")}
    for w in args.workers:
        lv = build_loader(ClipDataset(video_list, sampler), args.batch, shuffle=True, workers=w, seed=0)
        lf = build_loader(ClipDataset(frame_list, sampler), args.batch, shuffle=True, workers=w, seed=0)
        pil = DataLoader(
            PaperPILClips(frame_list, args.clip, args.stride, args.size),
            args.batch,
            shuffle=True,
            num_workers=w,
            persistent_workers=w > 0,
            worker_init_fn=seed_worker if w else None,
        )
        if w == 0:
            pipelines["ours/video w0 (no aug)"] = ours(lv, False)
            pipelines["ours/frames w0 (no aug)"] = ours(lf, False)
        pipelines[f"ours/video w{w}"] = ours(lv, True)
        pipelines[f"ours/frames w{w}"] = ours(lf, True)
        # CPU-only variant: the same VideoAugment per item, in the workers (or, with 0 workers,
        # in the main process): each clip is cropped before collating
        cpu_aug = VideoAugment(args.size)
        lva = build_loader(ClipDataset(video_list, sampler, transform=cpu_aug), args.batch, workers=w, seed=0)
        lfa = build_loader(ClipDataset(frame_list, sampler, transform=cpu_aug), args.batch, workers=w, seed=0)
        variant = "aug-in-workers" if w > 0 else "aug-per-item"
        pipelines[f"ours/video w{w} {variant}"] = ours(lva, False)
        pipelines[f"ours/frames w{w} {variant}"] = ours(lfa, False)
        pipelines[f"paper-PIL w{w}"] = paper(pil)

    for fn in pipelines.values():  # warm-up: worker start, first file reads
        fn()  # type: ignore[operator]
    rates: dict[str, list[float]] = {k: [] for k in pipelines}
    for _ in range(args.reps):
        for k, fn in pipelines.items():
            rates[k].append(epoch_time(fn))  # type: ignore[arg-type]
    med = {k: statistics.median(v) for k, v in rates.items()}

    print(f"\nclips/s, median of {args.reps} epochs of {args.videos} clips (min-max):")
    for k, v in rates.items():
        print(f"  {k:36s} {med[k]:8.1f}   ({min(v):.1f}-{max(v):.1f})")
    print("\nratios:")
    for w in args.workers:
        for kind in ("video", "frames"):
            for variant in ("", " aug-in-workers", " aug-per-item"):
                key = f"ours/{kind} w{w}{variant}"
                if key in med:
                    r = med[key] / med[f"paper-PIL w{w}"]
                    print(f"  {key:34s} / paper-PIL w{w}: {r:5.2f}x   (target >= 2x: {'ok' if r >= 2 else 'MISSED'})")
    for kind in ("video", "frames"):
        over = med[f"raw-decode/{kind} w0"] / med[f"ours/{kind} w0 (no aug)"] - 1
        print(
            f"  loader overhead over raw decoder ({kind}, 0 workers, no aug): {100 * over:+5.1f}%   "
            f"(target <= 10%: {'ok' if over <= 0.10 else 'MISSED'})"
        )
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
