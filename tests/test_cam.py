"""Activation maps (tbe_lib.viz.cam): Grad-CAM via the grad-cam package, plain CAM, the
channel-mean map, their conventions, localisation, and the actor-mass measure."""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from tbe_lib.models import ClassifierHead, VideoModel, build_model
from tbe_lib.viz.cam import (
    actor_area_share,
    actor_mass,
    actor_mass_ratio,
    compute_cam,
    normalize_maps,
    target_layer,
    upsample_maps,
)

needs_gradcam = pytest.mark.skipif(
    importlib.util.find_spec("pytorch_grad_cam") is None,
    reason="grad-cam not installed (pip install 'grad-cam>=1.5.4')",
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def tiny(num_classes: int = 4, seed: int = 0) -> VideoModel:
    """r3d_tiny with overall stride (8, 16, 16): (B, 3, 16, 32, 32) -> (B, 64, 2, 2, 2); a
    classifier with N(0, 1) weights so that classes differ clearly."""
    torch.manual_seed(seed)
    model = build_model(
        "r3d_tiny",
        head="classifier",
        num_classes=num_classes,
        widths=(16, 32, 48, 64),
        stem_stride=(1, 2, 2),
        stem_pool=False,
    )
    assert model.feature_map(torch.zeros(2, 3, 16, 32, 32)).shape == (2, 64, 2, 2, 2)
    with torch.no_grad():
        model.head.fc.weight.normal_(0.0, 1.0)
    return model.eval()


@pytest.fixture(scope="module")
def model() -> VideoModel:
    return tiny()


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    return torch.randn(2, 3, 16, 32, 32, generator=torch.Generator().manual_seed(1))


# --------------------------------------------------------------------------------------
# Grad-CAM


@needs_gradcam
@pytest.mark.parametrize("device", DEVICES)
def test_gradcam_shape_range_and_classes(model, clips, device):
    model = model.to(device)
    res = compute_cam(model, clips)  # predicted class
    assert res.maps.shape == (2, 16, 32, 32) and res.maps.dtype == torch.float32
    assert res.maps.device == clips.device  # results come back where the clips were
    assert res.maps.min() >= 0 and res.maps.amax(dim=(1, 2, 3)).allclose(torch.ones(2))  # per-clip max is 1
    logits = model(clips.to(device)).cpu()
    assert torch.equal(res.classes, logits.argmax(1))
    assert torch.allclose(res.probs, logits.softmax(1), atol=1e-5)
    chosen = compute_cam(model, clips, target_class=[2, 3])
    assert chosen.classes.tolist() == [2, 3]
    same = compute_cam(model, clips, target_class=3)
    assert same.classes.tolist() == [3, 3]
    assert torch.allclose(same.maps[1], chosen.maps[1], atol=1e-6)
    # Different classes (different classifier rows) give different maps.
    other = compute_cam(model, clips, target_class=(res.classes + 1) % 4)
    assert (other.maps - res.maps).abs().amax() > 0.05
    model.cpu()


@needs_gradcam
def test_gradcam_equals_plain_cam_for_a_linear_head(model, clips):
    """With global average pool -> linear, Grad-CAM's channel weights are W[k] / (t h w): the
    two maps agree after ReLU and per-clip max normalisation."""
    for k in range(4):
        g = compute_cam(model, clips, target_class=k, method="gradcam")
        c = compute_cam(model, clips, target_class=k, method="cam")
        assert torch.allclose(g.maps, c.maps, atol=1e-5), k
        assert torch.allclose(g.probs, c.probs, atol=1e-5)


@needs_gradcam
def test_plain_cam_matches_hand_computation(clips):
    """Classifier row k selects channel j only: the map is channel j's activation,
    upsampled trilinearly and normalised per clip."""
    model = tiny(num_classes=3, seed=2)
    with torch.no_grad():
        fmap = model.feature_map(clips)  # (2, 64, 2, 2, 2)
    spread = fmap.flatten(2).amax(2) - fmap.flatten(2).amin(2)  # (2, 64)
    j, k = int(spread.amin(0).argmax()), 1  # a channel that varies over positions in both clips
    assert spread[:, j].min() > 0
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.weight[k, j] = 2.0
    chan = fmap[:, j : j + 1]  # (2, 1, 2, 2, 2), >= 0 (after the block's ReLU)
    up = F.interpolate(chan, size=(16, 32, 32), mode="trilinear", align_corners=False)[:, 0]
    expected_max = up / up.amax(dim=(1, 2, 3), keepdim=True)
    lo, hi = up.amin(dim=(1, 2, 3), keepdim=True), up.amax(dim=(1, 2, 3), keepdim=True)
    expected_minmax = (up - lo) / (hi - lo)
    assert torch.allclose(compute_cam(model, clips, k, method="cam").maps, expected_max, atol=1e-5)
    assert torch.allclose(
        compute_cam(model, clips, k, method="cam", normalize="minmax").maps, expected_minmax, atol=1e-5
    )
    assert torch.allclose(compute_cam(model, clips, k, method="gradcam").maps, expected_max, atol=1e-5)
    # The channel-mean map ignores the class.
    mean = F.interpolate(fmap.mean(1, keepdim=True), size=(16, 32, 32), mode="trilinear", align_corners=False)[:, 0]
    act = compute_cam(model, clips, method="activation")
    assert torch.allclose(act.maps, mean / mean.amax(dim=(1, 2, 3), keepdim=True), atol=1e-5)


@needs_gradcam
def test_grad_cam_package_5d_behaviour(model, clips):
    """Pins what grad-cam does with 5-D input (the reason cam.py upsamples itself): a numpy
    (B, T, H, W) map, T upsampled too (scipy zoom), min-max normalised to [0, 1]; it puts the
    model in eval mode and leaves parameter grads. Our trilinear minmax map is close to it."""
    import numpy as np
    from pytorch_grad_cam import GradCAM

    model.train()
    with GradCAM(model=model, target_layers=[target_layer(model)]) as cam:
        out = cam(input_tensor=clips, targets=None)
    assert isinstance(out, np.ndarray) and out.shape == (2, 16, 32, 32)
    assert out.min() >= 0 and out.max() <= 1 and np.allclose(out.reshape(2, -1).max(1), 1, atol=1e-4)
    assert not model.training and model.head.fc.weight.grad is not None
    model.zero_grad(set_to_none=True)
    ours = compute_cam(model, clips, normalize="minmax").maps
    for b in range(2):
        r = torch.corrcoef(torch.stack([ours[b].flatten(), torch.from_numpy(out[b]).flatten()]))[0, 1]
        assert r > 0.95, r


@needs_gradcam
def test_side_effects_and_contexts(clips):
    model = tiny(seed=3)
    model.train()
    ref = compute_cam(model, clips, target_class=1).maps
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())  # no stale gradients
    model.eval()
    with torch.no_grad():  # Grad-CAM still works inside no_grad
        assert torch.allclose(compute_cam(model, clips, target_class=1).maps, ref, atol=1e-6)
    for p in model.backbone.parameters():  # a frozen backbone (linear probe)
        p.requires_grad_(False)
    assert torch.allclose(compute_cam(model, clips, target_class=1).maps, ref, atol=1e-6)


def test_bad_inputs(model, clips):
    with pytest.raises(ValueError, match="out of range"):
        compute_cam(model, clips, target_class=7)
    with pytest.raises(ValueError, match="2 clips"):
        compute_cam(model, clips, target_class=[0, 1, 2])
    with pytest.raises(ValueError, match="method"):
        compute_cam(model, clips, method="scorecam")
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        compute_cam(model, clips[0])
    ssl = build_model("r3d_tiny", head="projection")
    with pytest.raises(ValueError, match="ClassifierHead"):
        compute_cam(ssl, clips, method="cam")
    with pytest.raises(ValueError, match="activation"):
        compute_cam(ssl, clips, method="gradcam")
    act = compute_cam(ssl, clips, method="activation")  # label-free map works without a classifier
    assert act.probs is None and act.classes.tolist() == [-1, -1] and act.maps.shape == (2, 16, 32, 32)


# --------------------------------------------------------------------------------------
# Localisation sanity check


class IntensityBackbone(nn.Module):
    """Channel 0 = brightness, channel 1 = darkness, pooled 4x4: (B,3,T,H,W) -> (B,2,T,H/4,W/4)."""

    feature_dim = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=1, keepdim=True)
        return F.avg_pool3d(torch.cat([g, 1 - g], dim=1), (1, 4, 4))


def bright_square_clips(B: int = 2, T: int = 8, S: int = 32, side: int = 8):
    """Black clips with a white square moving right one pixel per frame; and its masks."""
    clips = torch.zeros(B, 3, T, S, S)
    masks = torch.zeros(B, T, S, S, dtype=torch.bool)
    for b in range(B):  # a few clips and frames: plain indexing is clearest
        for t in range(T):
            y, x = 5 + 9 * b, 3 + t + 6 * b
            clips[b, :, t, y : y + side, x : x + side] = 1.0
            masks[b, t, y : y + side, x : x + side] = True
    return clips, masks


@needs_gradcam
@pytest.mark.parametrize("method", ["gradcam", "cam"])
def test_map_localises_the_bright_square(method):
    head = ClassifierHead(2, 2, dropout=0.0)
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(2))  # class 0 <- brightness, class 1 <- darkness
    model = VideoModel(IntensityBackbone(), head)
    clips, masks = bright_square_clips()
    area = actor_area_share(masks)
    assert torch.allclose(area, torch.full((2,), 64 / 1024))
    actor = compute_cam(model, clips, target_class=0, method=method).maps
    ratio = actor_mass_ratio(actor, masks)
    assert (ratio > 8).all(), ratio  # far above chance (1); at most 1 / area = 16
    background = compute_cam(model, clips, target_class=1, method=method).maps
    assert (actor_mass(background, masks) < 0.5 * area).all()  # the "darkness" class avoids it


# --------------------------------------------------------------------------------------
# The measure on hand-made maps


def test_actor_mass_exact_values():
    maps = torch.zeros(2, 2, 2, 2)
    masks = torch.zeros(2, 2, 2, 2, dtype=torch.bool)
    masks[:, 0, 0, 0] = True  # the actor: 1 pixel of 8 -> area share 1/8
    maps[0] = 1.0  # uniform map: mass share = area share
    maps[1, 0, 0, 0], maps[1, 1, 1, 1] = 3.0, 1.0  # 3 of 4 units on the actor
    assert torch.allclose(actor_area_share(masks), torch.tensor([0.125, 0.125]))
    assert torch.allclose(actor_mass(maps, masks), torch.tensor([0.125, 0.75]))
    assert torch.allclose(actor_mass_ratio(maps, masks), torch.tensor([1.0, 6.0]))
    assert torch.isnan(actor_mass(torch.zeros(1, 2, 2, 2), masks[:1])).all()  # empty map: undefined
    with pytest.raises(ValueError, match="same shape"):
        actor_mass(maps, masks[:, :1])
    with pytest.raises(ValueError, match="non-negative"):
        actor_mass(-maps, masks)


def test_normalize_and_upsample_helpers():
    m = torch.tensor([[-1.0, 0.0, 2.0, 4.0]]).view(1, 1, 2, 2)
    assert torch.allclose(normalize_maps(m, "max").flatten(), torch.tensor([0.0, 0.0, 0.5, 1.0]))
    assert torch.allclose(normalize_maps(m, "minmax").flatten(), torch.tensor([0.0, 0.2, 0.6, 1.0]))
    assert torch.equal(normalize_maps(torch.full((1, 1, 2, 2), -3.0), "max"), torch.zeros(1, 1, 2, 2))
    up = upsample_maps(torch.arange(2.0).view(1, 2, 1, 1), (4, 3, 3))
    assert up.shape == (1, 4, 3, 3)
    assert torch.allclose(up[0, :, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))  # trilinear in time too


def test_set_cam_layer_picks_the_deepest_stage_with_spatial_detail():
    import torch

    from tbe_lib.models import build_model
    from tbe_lib.viz.cam import compute_cam, set_cam_layer, target_layer

    torch.manual_seed(0)
    m = build_model("r3d_tiny", head="classifier", num_classes=4)  # defaults: 1x1 map at 32x32
    assert m.eval().feature_map(torch.zeros(1, 3, 8, 32, 32)).shape[-2:] == (1, 1)
    layer = set_cam_layer(m, (3, 8, 32, 32), min_size=4)
    assert layer is m.backbone.stages[1] and target_layer(m) is layer  # 8x8 -> 8x8 -> 4x4 -> 2x2 -> 1x1
    maps = compute_cam(m, torch.randn(2, 3, 8, 32, 32)).maps
    assert maps.shape == (2, 8, 32, 32)
    assert float(maps.std()) > 0  # not flat, unlike a 1x1 map upsampled
    assert set_cam_layer(m, (3, 8, 32, 32), min_size=64) is m.backbone.stages[0]  # none qualifies: the first
