"""Batches of clips of several frame sizes: padded collation, per-clip crop boxes, evaluation
crops, and the pin that same-size batches give exactly what they gave before."""

from __future__ import annotations

import hashlib

import pytest
import torch

from tbe_lib.augment.video import VideoAugment, VideoEval, hflip, sample_crop_boxes
from tbe_lib.data.dataset import ClipSample, collate_clips, stack_clips


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def u8(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=gen(seed), dtype=torch.uint8)


def digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()[:16]


# Digests of outputs computed with the code *before* mixed sizes were supported (commit
# f77d2c9, this machine's torch 2.14.1 CPU build). Same-size batches must reproduce them bit
# for bit: the embedded benchmark's book table depends on these exact draws and kernels.
BEFORE = {
    "fused_default": "5245dc2bf0935ce4",
    "exact": "20f74b2c63c8149b",
    "roi_align": "4f42b65a337e9d5e",
    "views_bench": "3fcafdf00d02b6c3",
    "fallback": "e54e47a6a5dd6c98",
    "eval": "8106c553a20717be",
    "eval_crop": "ea78ccc326afad40",
    "gen_state_after": "ab7e800783456cc4",
    "no_jitter_applied": "a05a2963a0c243e7",
    "one_clip": "6995d21ea8286b18",
    "eval_wide": "824912fa3dd97c19",
}


def outputs_now(sizes_given: bool) -> dict[str, str]:
    """The same computations as when ``BEFORE`` was recorded; ``sizes_given``: pass every
    clip's (full) size explicitly, as the loader does."""

    def aug(a: VideoAugment, x: torch.Tensor, seed: int) -> torch.Tensor:
        sizes = torch.tensor(x.shape[-2:]).expand(*x.shape[:-4], 2) if sizes_given else None
        return a(x, generator=gen(seed), sizes=sizes)

    def ev(e: VideoEval, x: torch.Tensor, crop: bool = False) -> torch.Tensor:
        sizes = torch.tensor(x.shape[-2:]).expand(*x.shape[:-4], 2) if sizes_given else None
        return e.crop(x, sizes) if crop else e(x, sizes)

    x = u8(6, 3, 4, 40, 52, seed=0)
    out = {
        "fused_default": digest(aug(VideoAugment(16), x, 1)),
        "exact": digest(aug(VideoAugment(16, color="exact"), x, 2)),
        "roi_align": digest(aug(VideoAugment(16, crop_method="roi_align"), x, 3)),
        "views_bench": digest(aug(VideoAugment(32, scale=(0.3, 1.0), flip=False), u8(3, 3, 3, 4, 36, 36, seed=4), 5)),
        "fallback": digest(aug(VideoAugment(16, scale=(0.9, 1.0)), u8(5, 3, 4, 20, 90, seed=6), 7)),
        "eval": digest(ev(VideoEval(16), x)),
        "eval_crop": digest(ev(VideoEval(32, resize=36), x, crop=True)),
        "no_jitter_applied": digest(aug(VideoAugment(16, jitter_p=0.0, gray_p=0.5), x[:1], 9)),
        "one_clip": digest(aug(VideoAugment(24), x[:1], 10)),
        "eval_wide": digest(ev(VideoEval(16, resize=20), u8(2, 3, 4, 30, 70, seed=11))),
    }
    g = gen(8)
    VideoAugment(16)(x, generator=g, sizes=torch.tensor([[40, 52]] * 6) if sizes_given else None)
    out["gen_state_after"] = digest(g.get_state())  # the same number of draws
    return out


@pytest.mark.parametrize("sizes_given", [False, True], ids=["no-sizes", "full-sizes"])
def test_same_size_batches_are_bit_identical_to_before(sizes_given):
    assert outputs_now(sizes_given) == BEFORE


def test_per_clip_boxes_use_the_same_draws_and_stay_inside_each_clip():
    hs, ws = torch.tensor([20, 90, 36, 144, 40]), torch.tensor([90, 20, 36, 176, 52])
    boxes = sample_crop_boxes(5, hs, ws, (0.2, 1.0), generator=gen(0))
    for i in range(5):  # clip i's box is the one a batch of clips of its size would draw for it
        alone = sample_crop_boxes(5, int(hs[i]), int(ws[i]), (0.2, 1.0), generator=gen(0))
        assert torch.equal(boxes[i], alone[i])
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= ws).all() and (boxes[:, 3] <= hs).all()
    # extreme aspect ratios fall back to a centred crop clamped to the ratio, per clip
    fb = sample_crop_boxes(2, torch.tensor([20, 90]), torch.tensor([90, 20]), (0.95, 1.0), generator=gen(1))
    assert fb.tolist() == [[31.0, 0.0, 58.0, 20.0], [0.0, 31.0, 20.0, 58.0]]  # 27 = round(20 * 4/3) = round(20 / (3/4))


def test_collate_pads_with_the_edges_and_reports_sizes():
    a, b = u8(3, 2, 5, 7, seed=1), u8(3, 2, 9, 4, seed=2)
    batch = collate_clips([ClipSample(a, 0, 0), ClipSample(b, 1, 1)])
    assert batch.clips.shape == (2, 3, 2, 9, 7) and batch.sizes.tolist() == [[5, 7], [9, 4]]
    assert torch.equal(batch.clips[0, ..., :5, :7], a) and torch.equal(batch.clips[1, ..., :9, :4], b)
    assert torch.equal(batch.clips[0, ..., 5:, :], a[..., 4:5, :].expand(3, 2, 4, 7))  # last row repeated
    assert torch.equal(batch.clips[1, ..., :, 4:], b[..., :, 3:4].expand(3, 2, 9, 3))  # last column repeated
    same = collate_clips([ClipSample(a, 0, 0), ClipSample(a.clone(), 1, 1)])  # one size: a plain stack
    assert torch.equal(same.clips, torch.stack([a, a])) and same.sizes.tolist() == [[5, 7], [5, 7]]
    # items that are padded stacks themselves (views of two sizes) keep their own sizes
    views, vsizes = stack_clips([a, b])
    nested = collate_clips([ClipSample(views, 0, 0, (), vsizes), ClipSample(torch.stack([a, a]), 1, 1)])
    assert nested.clips.shape == (2, 2, 3, 2, 9, 7)
    assert nested.sizes.tolist() == [[[5, 7], [9, 4]], [[5, 7], [5, 7]]]
    with pytest.raises(ValueError, match="only the frame size"):
        collate_clips([ClipSample(a, 0, 0), ClipSample(u8(3, 3, 5, 7), 0, 1)])


@pytest.mark.parametrize("method", ["resize", "roi_align"])
def test_a_padded_batch_augments_each_clip_as_if_alone(method):
    clips = [u8(3, 4, 24, 40, seed=1), u8(3, 4, 36, 30, seed=2), u8(3, 4, 20, 20, seed=3)]
    batch = collate_clips([ClipSample(c, 0, i) for i, c in enumerate(clips)])
    aug = VideoAugment(16, crop_method=method, gray_p=0.3)
    params = aug.sample_params(3, batch.sizes[:, 0], batch.sizes[:, 1], gen(4))
    out = aug.apply(batch.clips, params)  # (3, 3, 4, 16, 16)
    for i, c in enumerate(clips):
        alone = aug.apply(c[None], {k: v[i : i + 1] for k, v in params.items()})[0]
        # resize reads only the clip's region; roi_align's border samples read the repeated edge
        torch.testing.assert_close(out[i], alone, rtol=0, atol=1e-5 if method == "roi_align" else 1e-6)
    y = aug(batch.clips, generator=gen(4), sizes=batch.sizes)  # forward: the same draws
    torch.testing.assert_close(y, out, rtol=0, atol=0)
    with pytest.raises(ValueError, match="sizes must have shape"):
        aug(batch.clips, sizes=batch.sizes[:2])
    with pytest.raises(ValueError, match="outside its padded frame"):
        aug(batch.clips, sizes=torch.tensor([[24, 40], [37, 30], [20, 20]]))


def test_eval_crops_each_clip_from_its_own_region():
    clips = [u8(3, 2, 24, 40, seed=5), u8(3, 2, 36, 30, seed=6), u8(3, 2, 24, 40, seed=7)]
    batch = collate_clips([ClipSample(c, 0, i) for i, c in enumerate(clips)])
    ev = VideoEval(16, resize=20)
    out = ev(batch.clips, batch.sizes)
    assert out.shape == (3, 3, 2, 16, 16)
    for i, c in enumerate(clips):  # same kernels, clip by clip
        assert torch.equal(out[i], ev(c[None])[0])
    multi = torch.stack([batch.clips, batch.clips], 1)  # (B, N, C, T, H, W): multi-clip testing
    msizes = torch.stack([batch.sizes, batch.sizes], 1)
    assert torch.equal(ev.crop(multi, msizes)[:, 1], ev.crop(batch.clips, batch.sizes))


def test_hflip_without_host_sync_matches_the_cpu_path():
    """The CUDA path of hflip (torch.where, no nonzero) gives the CPU path's values; run on
    CPU by calling it directly."""
    x = u8(5, 3, 2, 4, 6).float()
    mask = torch.tensor([True, False, True, True, False])
    cpu = hflip(x, mask)
    where = torch.where(mask.view(-1, 1, 1, 1, 1), x.flip(-1), x)
    assert torch.equal(cpu, where) and torch.equal(cpu[1], x[1]) and torch.equal(cpu[0], x[0].flip(-1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_augmentation_of_a_padded_batch_does_not_sync():
    clips = [u8(3, 4, 24, 40, seed=1), u8(3, 4, 36, 30, seed=2)]
    batch = collate_clips([ClipSample(c, 0, i) for i, c in enumerate(clips)])
    x = batch.clips.pin_memory().cuda(non_blocking=True)
    aug, ev = VideoAugment(16), VideoEval(16, resize=20)
    g = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        y = aug(x, generator=g, sizes=batch.sizes)
        z = ev(x, batch.sizes)
        y_cpu_gen = aug(x, generator=gen(0), sizes=batch.sizes)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert y.shape == y_cpu_gen.shape == z.shape == (2, 3, 4, 16, 16)
    ref = VideoAugment(16, crop_method="roi_align")(batch.clips, generator=gen(0), sizes=batch.sizes)
    torch.testing.assert_close(y_cpu_gen.cpu(), ref, atol=1e-4, rtol=0)  # the same kernels on GPU and CPU
    for i, c in enumerate(clips):
        torch.testing.assert_close(z[i].cpu(), ev(c[None])[0], atol=1e-5, rtol=0)
