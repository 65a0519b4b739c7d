"""Tests for tbe_lib.models: backbones, heads, VideoModel, checkpoints (CPU, small inputs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from tbe_lib.models import (
    ClassifierHead,
    ProjectionHead,
    VideoModel,
    build_backbone,
    build_model,
    checkpoint_dict,
    list_backbones,
    load_weights,
    model_from_checkpoint,
    register_backbone,
)
from tbe_lib.utils import atomic_save, safe_load

# Smallest input each backbone handles in training mode (batch 2: BN needs >1 value per channel).
SMALL_INPUT = {
    "c3d": (2, 3, 8, 32, 32),
    "i3d": (2, 3, 8, 64, 64),
    "r3d_18": (2, 3, 8, 32, 32),
    "r2plus1d_18": (2, 3, 8, 32, 32),
    "s3d": (2, 3, 8, 64, 64),
    "r3d_tiny": (2, 3, 8, 32, 32),
}
TINY = dict(widths=(8, 16, 16, 32))  # an even smaller r3d_tiny for the weight tests


def test_registry_lists_all_required_backbones():
    assert set(list_backbones()) >= {"c3d", "i3d", "r3d_18", "r2plus1d_18", "s3d", "r3d_tiny"}
    assert list_backbones() == sorted(list_backbones())


def test_unknown_backbone_lists_names():
    with pytest.raises(ValueError) as e:
        build_backbone("resnet9000")
    msg = str(e.value)
    assert "resnet9000" in msg
    assert all(name in msg for name in list_backbones())
    with pytest.raises(ValueError, match="resnet9000"):
        build_model("resnet9000")


def test_unknown_backbone_kwarg_is_a_clear_error():
    with pytest.raises(ValueError, match="widths"):
        build_backbone("c3d", widths=(1, 2))


def test_register_backbone_decorator_and_duplicate_name():
    name = "_test_identity_backbone"

    @register_backbone(name)
    def factory(*, channels: int = 3) -> nn.Module:
        m = nn.Conv3d(3, channels, 1)
        m.feature_dim = channels
        return m

    b = build_backbone(name, channels=5)
    assert name in list_backbones()
    assert b.feature_dim == 5 and b.arch == {"backbone": name, "backbone_kwargs": {"channels": 5}}
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(name)(lambda: None)


@pytest.mark.parametrize("name", sorted(SMALL_INPUT))
def test_backbone_forward_backward(name):
    torch.manual_seed(0)
    backbone = build_backbone(name)
    x = torch.randn(*SMALL_INPUT[name], requires_grad=True)
    y = backbone(x)
    assert y.dim() == 5 and y.shape[0] == x.shape[0]
    assert y.shape[1] == backbone.feature_dim
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grads = [p.grad for p in backbone.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)


@pytest.mark.parametrize("size, frames, expected", [(112, 8, (1, 4, 4)), (224, 8, (1, 7, 7))])
def test_i3d_accepts_112_and_224(size, frames, expected):
    backbone = build_backbone("i3d").eval()
    with torch.no_grad():
        y = backbone(torch.randn(1, 3, frames, size, size))
    assert y.shape == (1, 1024, *expected)


def test_i3d_16_frames_temporal_stride():
    backbone = build_backbone("i3d").eval()
    with torch.no_grad():
        y = backbone(torch.randn(1, 3, 16, 64, 64))
    assert y.shape == (1, 1024, 2, 2, 2)


def test_projection_head_unit_norm_128():
    model = build_model("r3d_tiny", head="projection")
    z = model(torch.randn(2, 3, 8, 32, 32))
    assert z.shape == (2, 128)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(2))
    assert model.arch["head"] == {"kind": "projection", "in_dim": 128, "out_dim": 128, "hidden_dim": None}
    # the paper's head is a single Linear
    assert isinstance(model.head.proj, nn.Linear)


def test_projection_head_mlp():
    head = ProjectionHead(32, out_dim=16, hidden_dim=64)
    z = head(torch.randn(4, 32, 1, 2, 2))
    assert z.shape == (4, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4))
    assert [type(m) for m in head.proj] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]


def test_classifier_head_logits():
    model = build_model("r3d_tiny", head="classifier", num_classes=7, dropout=0.2)
    logits = model(torch.randn(3, 3, 8, 32, 32))
    assert logits.shape == (3, 7)
    # logits, not log-probabilities: rows do not sum to 1 in probability space
    assert not torch.allclose(logits.exp().sum(1), torch.ones(3))
    head = ClassifierHead(16, 4, dropout=0.5).eval()
    feats = torch.randn(2, 16, 2, 3, 3)
    torch.testing.assert_close(head(feats), head.fc(feats.mean(dim=(2, 3, 4))))


def test_build_model_argument_errors():
    with pytest.raises(ValueError, match="num_classes"):
        build_model("r3d_tiny", head="classifier")
    with pytest.raises(ValueError, match="num_classes"):
        build_model("r3d_tiny", num_classes=10)
    with pytest.raises(ValueError, match="head must be"):
        build_model("r3d_tiny", head="mlp")


def test_model_features_and_feature_map():
    model = build_model("r3d_tiny", head=None).eval()
    x = torch.randn(2, 3, 8, 32, 32)
    fmap = model.feature_map(x)
    assert fmap.shape[:2] == (2, 128)
    torch.testing.assert_close(model.features(x), fmap.mean(dim=(2, 3, 4)))
    torch.testing.assert_close(model(x), model.features(x))
    assert model.feature_dim == 128


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_r3d_tiny_width_and_depth_kwargs():
    base = build_backbone("r3d_tiny")
    wide = build_backbone("r3d_tiny", widths=(16, 32, 64, 256))
    deep = build_backbone("r3d_tiny", blocks=(1, 2, 2, 1))
    three = build_backbone("r3d_tiny", widths=(8, 16, 24), blocks=(1, 1, 1))
    assert base.feature_dim == 128 and wide.feature_dim == 256 and three.feature_dim == 24
    assert _n_params(wide) > _n_params(base)
    assert _n_params(deep) > _n_params(base)
    assert _n_params(three) < _n_params(base)
    assert len(deep.stages[1]) == 2 and len(base.stages[1]) == 1
    y = three(torch.randn(2, 3, 8, 32, 32))
    assert y.shape[1] == 24
    # (2+1)D blocks and other stems also run; the stem strides set the output size
    assert build_backbone("r3d_tiny", block="2plus1d")(torch.randn(2, 3, 8, 32, 32)).shape[1:] == (128, 1, 1, 1)
    assert base(torch.randn(2, 3, 16, 64, 64)).shape[2:] == (2, 2, 2)
    assert build_backbone("r3d_tiny", stem_stride=(1, 2, 2))(torch.randn(2, 3, 8, 32, 32)).shape[2:] == (1, 2, 2)
    pooled = build_backbone("r3d_tiny", stem_stride=(1, 2, 2), stem_pool=True)
    assert pooled(torch.randn(2, 3, 8, 32, 32)).shape[2:] == (1, 1, 1)
    assert isinstance(pooled.stem[-1], nn.MaxPool3d) and not isinstance(base.stem[-1], nn.MaxPool3d)
    with pytest.raises(ValueError, match="equal length"):
        build_backbone("r3d_tiny", widths=(8, 16), blocks=(1,))


@pytest.mark.parametrize(
    "name, kwargs, shape",
    [
        ("r3d_tiny", {}, (2, 3, 8, 32, 32)),
        ("r3d_tiny", {"block": "2plus1d"}, (2, 3, 8, 32, 32)),
        ("c3d", {}, (2, 3, 8, 32, 32)),
        ("i3d", {}, (1, 3, 8, 64, 64)),
    ],
)
def test_channels_last_3d_matches_contiguous(name, kwargs, shape):
    torch.manual_seed(0)
    model = build_model(name, head="projection", **kwargs).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        ref_map, ref_z = model.feature_map(x), model(x)
        model = model.to(memory_format=torch.channels_last_3d)
        x_cl = x.contiguous(memory_format=torch.channels_last_3d)
        out_map, out_z = model.feature_map(x_cl), model(x_cl)
    assert out_map.shape == ref_map.shape
    # relative to the map's scale (eval-mode BN with init statistics can give large values)
    assert (out_map - ref_map).abs().max() <= 1e-5 * ref_map.abs().max() + 1e-6
    torch.testing.assert_close(out_z, ref_z, rtol=1e-4, atol=1e-5)


def _same_outputs(a: nn.Module, b: nn.Module, x: torch.Tensor) -> bool:
    a.eval(), b.eval()
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def test_checkpoint_round_trip_through_file(tmp_path):
    torch.manual_seed(0)
    model = build_model("r3d_tiny", head="projection", **TINY)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()(torch.randn(2, 3, 8, 32, 32)).sum().backward()  # BN stats move away from init
    opt.step()
    ckpt = checkpoint_dict(model, epoch=3, optimizer=opt.state_dict(), config={"lr": 0.1, "widths": (8, 16)})
    path = atomic_save(ckpt, tmp_path / "ckpt.pt")
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["epoch"] == 3 and raw["arch"]["backbone"] == "r3d_tiny"
    assert raw["arch"]["backbone_kwargs"]["widths"] == [8, 16, 16, 32]
    opt.load_state_dict(raw["optimizer"])
    torch.manual_seed(1)
    fresh = build_model("r3d_tiny", head="projection", **TINY)
    x = torch.randn(2, 3, 8, 32, 32)
    assert not _same_outputs(model, fresh, x)
    report = load_weights(fresh, path, strict=True)
    assert report.complete and report.head_loaded and len(report.loaded) == len(model.state_dict())
    assert _same_outputs(model, fresh, x)
    assert "ckpt.pt" in str(report) and "missing (0)" in str(report)
    rebuilt = model_from_checkpoint(path)
    assert rebuilt.arch == model.arch and _same_outputs(model, rebuilt, x)


def test_checkpoint_dict_copies_tensors_and_refuses_non_plain_extras():
    model = build_model("r3d_tiny", head=None, **TINY)
    ckpt = checkpoint_dict(model)
    key = "backbone.stem.0.weight"
    with torch.no_grad():
        model.backbone.stem[0].weight.add_(1.0)
    assert not torch.equal(ckpt["state_dict"][key], model.state_dict()[key])  # a copy, not a view
    with pytest.raises(TypeError, match="extra\\['opt'\\]"):
        checkpoint_dict(model, opt=object())
    import numpy as np

    with pytest.raises(TypeError, match="numpy"):
        checkpoint_dict(model, metric=np.float64(0.5))
    with pytest.raises(ValueError, match="state_dict"):
        checkpoint_dict(model, state_dict={})


def test_loading_other_architecture_names_both(tmp_path):
    src = build_model("c3d", head=None)
    path = atomic_save(checkpoint_dict(src), tmp_path / "c3d_ckpt.pt")
    dst = build_model("r3d_tiny", head=None, **TINY)
    with pytest.raises(ValueError) as e:
        load_weights(dst, path)
    msg = str(e.value)
    assert "c3d_ckpt.pt" in msg and "'c3d'" in msg and "'r3d_tiny'" in msg


def test_loading_other_backbone_kwargs_is_refused():
    src = build_model("r3d_tiny", head=None, widths=(8, 16, 16, 32))
    dst = build_model("r3d_tiny", head=None, widths=(8, 16, 16, 64))
    with pytest.raises(ValueError, match="widths"):
        load_weights(dst, checkpoint_dict(src))
    # kwargs given as tuple or list, or left at default, describe the same architecture
    a = build_model("r3d_tiny", head=None)
    b = build_model("r3d_tiny", head=None, widths=[16, 32, 64, 128], blocks=(1, 1, 1, 1))
    assert load_weights(b, checkpoint_dict(a), strict=True).complete


def test_shape_mismatch_names_the_key():
    src = build_model("r3d_tiny", head="classifier", num_classes=5, **TINY)
    state = {"backbone." + k: v for k, v in checkpoint_dict(src.backbone)["state_dict"].items()}
    state["head.fc.weight"] = torch.zeros(5, 32)
    state["head.fc.bias"] = torch.zeros(5)
    dst = build_model("r3d_tiny", head="classifier", num_classes=9, **TINY)
    with pytest.raises(ValueError, match="head.fc.weight"):
        load_weights(dst, state)  # raw state dict: no arch, so the shape check must catch it
    report = load_weights(dst, state, load_head=False)
    assert set(report.skipped) == {"head.fc.weight", "head.fc.bias"}


def test_prefix_stripping_module_and_encoder_q():
    torch.manual_seed(0)
    src = build_model("r3d_tiny", head="projection", **TINY)
    x = torch.randn(2, 3, 8, 32, 32)
    state = src.state_dict()
    ddp_state = {"module." + k: v for k, v in state.items()}
    dst = build_model("r3d_tiny", head="projection", **TINY)
    report = load_weights(dst, ddp_state, strict=True)
    assert report.complete and _same_outputs(src, dst, x)

    compiled_state = {"_orig_mod." + k: v for k, v in state.items()}
    dst = build_model("r3d_tiny", head="projection", **TINY)
    assert load_weights(dst, compiled_state, strict=True).complete and _same_outputs(src, dst, x)

    moco_state = {f"module.encoder_{q}.{k}": v + (0 if q == "q" else 1) for q in "qk" for k, v in state.items()}
    for prefix in (None, "encoder_q.", "encoder_q"):
        dst = build_model("r3d_tiny", head="projection", **TINY)
        report = load_weights(dst, moco_state, prefix=prefix, strict=True)
        assert report.prefix == "encoder_q." and _same_outputs(src, dst, x)
        assert report.skipped and all(k.startswith("encoder_k.") for k in report.skipped)
    with pytest.raises(ValueError, match="prefix"):
        load_weights(dst, moco_state, prefix="encoder_z.")


def test_bare_backbone_and_whole_model_checkpoints_interchange():
    torch.manual_seed(0)
    src = build_model("r3d_tiny", head="projection", **TINY)
    x = torch.randn(2, 3, 8, 32, 32)
    bare = build_backbone("r3d_tiny", **TINY)
    report = load_weights(bare, checkpoint_dict(src), strict=True)  # model ckpt -> bare backbone
    assert report.prefix == "backbone." and report.skipped  # head keys not loaded
    bare.eval(), src.eval()
    with torch.no_grad():
        torch.testing.assert_close(bare(x), src.feature_map(x), rtol=0, atol=0)
    dst = build_model("r3d_tiny", head=None, **TINY)
    report = load_weights(dst, checkpoint_dict(bare), strict=True)  # bare ckpt -> model
    assert report.added == "backbone."


def test_load_head_false_leaves_head_untouched():
    torch.manual_seed(0)
    pre = build_model("r3d_tiny", head="projection", **TINY)
    ckpt = checkpoint_dict(pre, epoch=10)
    ft = build_model("r3d_tiny", head="classifier", num_classes=4, **TINY)
    head_before = {k: v.clone() for k, v in ft.head.state_dict().items()}
    with pytest.raises(ValueError, match="load_head=False"):
        load_weights(ft, ckpt)  # a projection head cannot load into a classifier
    report = load_weights(ft, ckpt, load_head=False, strict=True)
    assert not report.head_loaded and "load_head=False" in str(report)
    assert sorted(report.skipped) == ["head.proj.bias", "head.proj.weight"]
    assert not report.missing and not report.unexpected
    for k, v in ft.head.state_dict().items():
        assert torch.equal(v, head_before[k])
    for k, v in pre.backbone.state_dict().items():
        assert torch.equal(v, ft.backbone.state_dict()[k])


def test_strict_reports_missing_and_unexpected():
    src = build_model("r3d_tiny", head=None, **TINY)
    state = dict(src.state_dict())
    del state["backbone.stem.0.weight"]
    state["backbone.extra.weight"] = torch.zeros(1)
    dst = build_model("r3d_tiny", head=None, **TINY)
    report = load_weights(dst, state)
    assert report.missing == ["backbone.stem.0.weight"] and report.unexpected == ["backbone.extra.weight"]
    assert not report.complete
    with pytest.raises(ValueError, match="backbone.stem.0.weight"):
        load_weights(dst, state, strict=True)


class _NotWeights:
    def __init__(self) -> None:
        self.payload = "arbitrary code would run here"


def test_non_weights_pickle_is_refused(tmp_path):
    model = build_model("r3d_tiny", head=None, **TINY)
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": model.state_dict(), "extra": _NotWeights()}, path)
    with pytest.raises(ValueError, match="weights_only") as e:
        load_weights(model, path)
    assert "evil.pt" in str(e.value)
    with pytest.raises(ValueError, match="weights_only"):
        safe_load(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_weights(model, tmp_path / "missing.pt")
    not_a_ckpt = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_a_ckpt)
    with pytest.raises(ValueError, match="list.pt"):
        load_weights(model, not_a_ckpt)


def test_paper_style_checkpoint_dict_with_model_key():
    src = build_model("r3d_tiny", head=None, **TINY)
    paper_style = {"model": {"module." + k: v for k, v in src.state_dict().items()}, "epoch": 5}
    dst = build_model("r3d_tiny", head=None, **TINY)
    assert load_weights(dst, paper_style, strict=True).complete


def test_dataparallel_wrapped_model_saves_clean_keys():
    model = build_model("r3d_tiny", head=None, **TINY)
    wrapped = nn.DataParallel(model)  # CPU: a plain wrapper
    ckpt = checkpoint_dict(wrapped)
    assert ckpt["arch"] == model.arch
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    assert load_weights(wrapped, ckpt, strict=True).complete


def test_video_model_from_parts_records_arch():
    backbone = build_backbone("r3d_tiny", **TINY)
    model = VideoModel(backbone, ProjectionHead(backbone.feature_dim, 64))
    assert model.arch["backbone"] == "r3d_tiny"
    assert model.arch["backbone_kwargs"]["widths"] == [8, 16, 16, 32]
    assert model.arch["head"]["out_dim"] == 64
    assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 64)
