"""Batched clip augmentation: shapes, per-clip consistency, determinism, exact geometry, and
that every colour-jitter op really applies (the paper's ColorJitter kept only one)."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from tbe_lib.augment.video import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VideoAugment,
    VideoEval,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    color_jitter,
    hflip,
    normalize,
    resized_crop,
    sample_crop_boxes,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rand_u8(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=gen(seed), dtype=torch.uint8)


def static_clips(b: int, t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(B, 3, T, H, W) uint8 clips whose T frames are all the same image."""
    return rand_u8(b, 3, 1, h, w, seed=seed).expand(b, 3, t, h, w).contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_dtype_device(device):
    aug = VideoAugment(16)
    x = rand_u8(2, 3, 4, 20, 24).to(device)
    y = aug(x, generator=gen(0))
    assert y.shape == (2, 3, 4, 16, 16) and y.dtype == torch.float32 and y.device.type == device
    assert aug(x[0]).shape == (3, 4, 16, 16)  # one clip
    views = rand_u8(2, 3, 3, 4, 20, 24).to(device)  # (B, V, C, T, H, W) from the loader
    assert aug(views).shape == (2, 3, 3, 4, 16, 16)
    assert VideoAugment((12, 20))(x).shape == (2, 3, 4, 12, 20)
    ev = VideoEval(16)
    assert ev(x).shape == (2, 3, 4, 16, 16) and ev(x).device.type == device
    with pytest.raises(ValueError, match="shape"):
        aug(torch.zeros(3, 20, 24, dtype=torch.uint8))


def test_same_params_on_all_frames_of_a_clip():
    x = static_clips(6, 5, 24, 30)
    y = VideoAugment(16, gray_p=0.5, jitter_p=1.0)(x, generator=gen(1))
    for t in range(1, 5):  # identical frames stay identical
        assert torch.equal(y[:, :, t], y[:, :, 0])


def test_different_clips_get_different_params():
    x = static_clips(1, 3, 24, 30).expand(8, -1, -1, -1, -1)  # 8 copies of one clip
    y = VideoAugment(16)(x, generator=gen(2))
    distinct = {tuple(y[i, :, 0, ::4, ::4].flatten().round(decimals=4).tolist()) for i in range(8)}
    assert len(distinct) == 8


def test_generator_determinism():
    x = rand_u8(4, 3, 3, 24, 30)
    aug = VideoAugment(16)
    assert torch.equal(aug(x, generator=gen(3)), aug(x, generator=gen(3)))
    assert not torch.equal(aug(x, generator=gen(3)), aug(x, generator=gen(4)))


@pytest.mark.parametrize("method", ["roi_align", "resize"])
def test_identity_crop_is_exact_and_flip(method):
    # scale 1 at the image's own aspect ratio and size: crop + resample is the identity
    x = rand_u8(3, 3, 2, 20, 28)
    ident = VideoAugment(
        (20, 28), scale=(1, 1), ratio=(28 / 20, 28 / 20), flip=False, jitter=None, gray_p=0, crop_method=method
    )
    ref = normalize(x.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    assert torch.allclose(ident(x), ref, atol=1e-6)
    mask = torch.tensor([True, False, True])
    f = hflip(ref, mask)
    assert torch.equal(f[0], ref[0].flip(-1)) and torch.equal(f[1], ref[1]) and torch.equal(f[2], ref[2].flip(-1))
    # random flips happen for about half the clips
    flipper = VideoAugment((20, 28), scale=(1, 1), ratio=(1.4, 1.4), jitter=None, gray_p=0)
    xs = rand_u8(64, 3, 1, 20, 28)
    y = flipper(xs, generator=gen(0))
    r = normalize(xs.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    flipped = torch.tensor([torch.allclose(y[i], r[i].flip(-1), atol=1e-5) for i in range(64)])
    assert 16 < flipped.sum() < 48


def test_crop_boxes_and_resized_crop():
    boxes = sample_crop_boxes(500, 60, 80, (0.2, 1.0), (3 / 4, 4 / 3), generator=gen(0))
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 60).all()
    area = w * h / (60 * 80)
    assert area.min() > 0.18 and area.max() <= 1.0 and area.std() > 0.1
    assert ((w / h) > 0.7).all() and ((w / h) < 1.4).all()
    assert torch.equal(boxes, sample_crop_boxes(500, 60, 80, generator=gen(0)))
    # an integer box at its own size is an exact crop, with both methods
    x = torch.rand(2, 3, 2, 30, 40, generator=gen(1))
    box = torch.tensor([[5.0, 3.0, 25.0, 18.0], [0.0, 0.0, 20.0, 15.0]])
    for method in ("roi_align", "resize"):
        out = resized_crop(x, box, (15, 20), method=method)
        assert torch.allclose(out[0], x[0, :, :, 3:18, 5:25], atol=1e-6)
        assert torch.allclose(out[1], x[1, :, :, 0:15, 0:20], atol=1e-6)
    # downscaling a smooth image: the two methods agree (both antialias), uint8 in -> [0, 1] out
    smooth = torch.nn.functional.interpolate(
        torch.rand(2, 3 * 2, 8, 10, generator=gen(2)), size=(60, 80), mode="bilinear"
    )
    u8 = (smooth * 255).round().to(torch.uint8).reshape(2, 3, 2, 60, 80)
    big = torch.tensor([[4.0, 2.0, 74.0, 58.0], [10.0, 0.0, 60.0, 40.0]])
    a = resized_crop(u8, big, 16, method="roi_align")
    b = resized_crop(u8, big, 16, method="resize")
    assert a.dtype == b.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert (a - b).abs().mean() < 0.01


def test_eval_center_crop_exact():
    x = rand_u8(2, 3, 3, 37, 50)
    ev = VideoEval(32, resize=37)  # short side already 37: no resize, pure centre crop
    top, left = int(round((37 - 32) / 2)), int(round((50 - 32) / 2))
    expected = normalize(x[..., top : top + 32, left : left + 32].float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    assert torch.allclose(ev(x), expected, atol=1e-6)
    # with a resize: same as torchvision on each frame
    ev2 = VideoEval(16)  # resize to round(16 * 8 / 7) = 18
    assert ev2.resize == 18 and VideoEval(112).resize == 128 and VideoEval(224).resize == 256
    frame = TF.center_crop(TF.resize(x[1, :, 2], 18, antialias=True), [16, 16])
    ref = normalize(frame.float()[None, :, None] / 255, IMAGENET_MEAN, IMAGENET_STD)[0, :, 0]
    assert torch.allclose(ev2(x)[1, :, 2], ref, atol=1e-6)
    # the geometry alone keeps the dtype (uint8 clips for display) and is what forward normalises
    shown = ev2.crop(x)
    assert shown.dtype == torch.uint8 and shown.shape == (2, 3, 3, 16, 16)
    assert torch.equal(shown[1, :, 2], frame)
    assert torch.allclose(ev2(x), normalize(shown.float() / 255, IMAGENET_MEAN, IMAGENET_STD), atol=1e-6)


OPS = [
    (adjust_brightness, TF.adjust_brightness, [0.6, 1.0, 1.4]),
    (adjust_contrast, TF.adjust_contrast, [0.5, 1.0, 1.5]),
    (adjust_saturation, TF.adjust_saturation, [0.3, 1.0, 1.6]),
    (adjust_hue, TF.adjust_hue, [-0.3, 0.0, 0.45]),
]


@pytest.mark.parametrize("ours,theirs,factors", OPS, ids=["brightness", "contrast", "saturation", "hue"])
def test_each_jitter_op_applies_per_clip(ours, theirs, factors):
    x = torch.rand(3, 3, 4, 10, 12, generator=gen(5))
    out = ours(x, torch.tensor(factors))
    for i, f in enumerate(factors):  # matches torchvision per frame with that clip's factor
        ref = theirs(x[i].transpose(0, 1), f).transpose(0, 1)
        assert torch.allclose(out[i], ref, atol=1e-5)
    change = (out - x).abs().amax(dim=(1, 2, 3, 4))
    assert change[0] > 0.05 and change[2] > 0.05  # a non-identity factor changes the clip
    assert change[1] < 1e-5  # the identity factor does not


def test_color_jitter_applies_all_four_in_the_given_order():
    x = torch.rand(2, 3, 2, 10, 12, generator=gen(6))
    factors = torch.tensor([[1.3, 0.6, 1.5, 0.2]] * 2)
    order = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    out = color_jitter(x, factors, order)
    ops = [adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue]
    for i in range(2):
        ref = x[i : i + 1]
        for op_id in order[i].tolist():
            ref = ops[op_id](ref, factors[i : i + 1, op_id])
        assert torch.allclose(out[i : i + 1], ref, atol=1e-5)
        only_last = ops[order[i, -1]](x[i : i + 1], factors[i : i + 1, order[i, -1]])  # the paper's bug
        assert (out[i : i + 1] - only_last).abs().max() > 0.05
    assert (out[0] - out[1]).abs().max() > 0.01  # the order matters
    skip = color_jitter(x, factors, order, apply=torch.tensor([False, True]))
    assert torch.equal(skip[0], x[0]) and torch.allclose(skip[1], out[1])


def test_grayscale_and_no_jitter():
    x = rand_u8(4, 3, 2, 20, 20)
    y = VideoAugment(16, gray_p=1.0, jitter=None)(x, generator=gen(0))
    raw = y * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1)
    assert torch.allclose(raw[:, 0], raw[:, 1], atol=1e-5) and torch.allclose(raw[:, 1], raw[:, 2], atol=1e-5)
    # jitter_p=0 and gray_p=0: colours untouched -> the same as the geometry alone
    a = VideoAugment(16, jitter_p=0.0, gray_p=0.0)(x, generator=gen(1))
    b = VideoAugment(16, jitter=None, gray_p=0.0)(x, generator=gen(1))
    assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError):
        VideoAugment(16, jitter=(0.4, 0.4, 0.4, 0.7))


def test_fused_color_jitter_matches_the_sequential_ops_without_hue():
    """Brightness, contrast and saturation compose exactly into one affine map (inputs chosen so
    that no intermediate clamp triggers)."""
    from tbe_lib.augment.video import color_jitter, fused_color_jitter

    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 4, 8, 8, generator=g) * 0.4 + 0.3
    f = torch.tensor([[1.2, 0.7, 1.3, 0.0], [0.8, 1.3, 0.6, 0.0]] * 3)
    order = torch.stack([torch.randperm(4, generator=g) for _ in range(6)])
    apply = torch.tensor([True, True, False, True, True, True])
    torch.testing.assert_close(
        fused_color_jitter(x, f, order, apply), color_jitter(x, f, order, apply), atol=1e-5, rtol=1e-5
    )
    # Without clamping these linear ops commute (all keep the mean luma's role): any order agrees.
    torch.testing.assert_close(
        fused_color_jitter(x, f, order.flip(1), apply), color_jitter(x, f, order, apply), atol=1e-5, rtol=1e-5
    )


def test_fused_hue_is_a_luma_preserving_periodic_rotation():
    from tbe_lib.augment.video import fused_color_jitter, rgb_to_grayscale

    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 2, 8, 8, generator=g) * 0.2 + 0.4  # in gamut after small rotations
    order = torch.tensor([[3, 0, 1, 2]] * 4)
    ones = torch.ones(4, 3)

    def hue(shift):
        return fused_color_jitter(x, torch.cat([ones, torch.full((4, 1), shift)], 1), order)

    torch.testing.assert_close(hue(0.0), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(hue(1.0), x, atol=1e-5, rtol=0)  # a full turn
    shifted = hue(0.15)
    assert (shifted - x).abs().max() > 0.01  # it does change colours
    torch.testing.assert_close(rgb_to_grayscale(shifted), rgb_to_grayscale(x), atol=1e-5, rtol=0)


def test_fused_and_exact_pipelines_agree_without_hue():
    from tbe_lib.augment.video import VideoAugment

    x = torch.rand(4, 3, 4, 16, 16, generator=torch.Generator().manual_seed(2)) * 0.4 + 0.3
    fused = VideoAugment(16, scale=(1.0, 1.0), ratio=(1.0, 1.0), jitter=(0.2, 0.2, 0.2, 0.0), gray_p=0.5)
    exact = VideoAugment(16, scale=(1.0, 1.0), ratio=(1.0, 1.0), jitter=(0.2, 0.2, 0.2, 0.0), gray_p=0.5, color="exact")
    a = fused(x, generator=torch.Generator().manual_seed(3))
    b = exact(x, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="color"):
        VideoAugment(16, color="other")
