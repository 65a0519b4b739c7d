"""The benchmark the paper's method can run on (videos longer than a clip, the actor on a torus
around a central band, single frames measured for what they give away) and the experiment's controls: ``oracle_swap`` (the
ground-truth actor on another video's clip), ``pan_direction`` (the positive control for motion),
``frame_order`` and ``time_reversal`` (controls that did not learn at the cpu budget) and
``be_other`` (the decomposition of the paper's recipe)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_pretrain import make_cfg

from tbe_lib.book.helpers import frame_leak, wilson_interval
from tbe_lib.data.dataset import ClipDataset, ClipSampler
from tbe_lib.data.synth import CLASS_NAMES, config_for, load_masks
from tbe_lib.data.synth.masks import ActorMasks
from tbe_lib.data.synth.scenes import _scene
from tbe_lib.methods import MethodConfig
from tbe_lib.methods.frame_order import shuffle_frames
from tbe_lib.methods.pan_direction import pan
from tbe_lib.pretrain import pretrain
from tbe_lib.train import read_metrics


def test_videos_are_longer_than_the_books_clips():
    assert config_for("default").frames == 32 and config_for("smoke").frames == 32


def _ks(a: np.ndarray, b: np.ndarray, top: float) -> float:
    """Kolmogorov-Smirnov distance of two samples on [0, top]."""
    a, b, grid = np.sort(a), np.sort(b), np.linspace(0, top, 65)
    return float(np.abs(np.searchsorted(a, grid) / len(a) - np.searchsorted(b, grid) / len(b)).max())


def test_the_actors_position_is_the_same_for_every_class_at_every_frame_and_stays_in_the_band():
    """Benchmark v4: the band is a torus, so left- and right-movers stand in the same places at
    the first, middle and last frames alike (v3's actors drifted out of the band: in the first
    frame a right-mover was left of its centre), and every actor stays in the band."""
    cfg = config_for("default", n_train_unbiased=1600)
    W, lo, hi = cfg.width, *cfg.centre_band
    x: dict[str, list[np.ndarray]] = {c: [] for c in CLASS_NAMES}
    for i in range(cfg.n_train_unbiased):
        sc = _scene(cfg, "train_unbiased", i)
        x[sc["class_name"]].append(sc["pos"][:, 0])
    xs = {c: np.stack(v) for c, v in x.items()}  # (videos, T) scene x, px
    for t in (0, cfg.frames // 2, cfg.frames - 1):
        ks = _ks(xs["translate_left"][:, t], xs["translate_right"][:, t], W)
        assert ks < 0.15, f"frame {t}: x of left vs right movers differ (KS {ks:.2f})"
        ks = _ks(xs["translate_right"][:, t], xs["rotate_cw"][:, t], W)
        assert ks < 0.15, f"frame {t}: x of right movers vs rotating actors differ (KS {ks:.2f})"
    for c, v in xs.items():
        assert v.min() >= lo * W - 1e-9 and v.max() <= hi * W + 1e-9, c


def test_the_actor_never_leaves_the_band_it_wraps_around_its_edges(smoke_bench):
    masks = load_masks(smoke_bench, "train")  # (N, T, H, W)
    assert masks.shape[1] == 32
    assert masks.any((2, 3)).all(), "the actor left the view in some frame"
    cfg = config_for("default")
    W, lo, hi = cfg.width, *cfg.centre_band
    for i in range(0, 400, 8):  # translate_left videos (label = index % 8)
        x = _scene(cfg, "train_unbiased", i)["pos"][:, 0]
        jumps = np.flatnonzero(np.diff(x) > 0)  # a left-mover moving right: the wrap
        if jumps.size:
            break
    else:
        raise AssertionError("no left-mover reached the band's edge: the wrap is not exercised")
    t = int(jumps[0])
    assert x[t] - x[t + 1] < 0 and x[t + 1] - x[t] < (hi - lo) * W  # it re-entered by less than the band
    assert x[t] < (lo + 0.1 * (hi - lo)) * W and x[t + 1] > (hi - 0.1 * (hi - lo)) * W  # left edge -> right edge
    from tbe_lib.data.synth.scenes import actor_masks

    m = actor_masks(cfg, "train_unbiased", i)  # (T, H, W)
    cols = np.arange(W)
    centre_before = (m[t].sum(0) * cols).sum() / m[t].sum()
    centre_after = (m[t + 1].sum(0) * cols).sum() / m[t + 1].sum()
    assert centre_after > centre_before, "the drawn actor did not jump to the band's right side"


def test_frame_leak_reports_accuracy_with_an_interval_per_frame_index(smoke_bench):
    df = frame_leak(smoke_bench / "lists" / "test_shift.txt", frames=[0, 31], folds=2)
    assert df.frame.tolist() == [0, 31]
    assert ((df.low <= df.accuracy) & (df.accuracy <= df.high)).all()
    assert df.accuracy.between(0, 1).all()
    lo, hi = wilson_interval(0.5, 400)
    assert lo == pytest.approx(0.451, abs=1e-3) and hi == pytest.approx(0.549, abs=1e-3)


def test_actor_swap_puts_the_ground_truth_actor_on_another_videos_clip(smoke_bench):
    lst = smoke_bench / "lists" / "pretrain.txt"
    ds = ClipDataset(lst, ClipSampler(frames=8, views=("anchor", "same_frames", "actor_swap")))
    item = ds[(3, (0, 0, 3))]
    anchor, swapped = item.clip[0], item.clip[2]  # (3, 8, H, W) uint8 each
    masks = ActorMasks(smoke_bench)
    # the anchor's frame indices are the ones whose mask matches where the clips agree on the actor
    same = (anchor == swapped).all(0)  # (8, H, W)
    full = torch.from_numpy(masks(ds.path(3), np.arange(32)))  # (32, H, W)
    matches = [t0 for t0 in range(32 - 7) if bool(same[full[t0 : t0 + 8]].all())]
    assert matches, "the swapped clip does not keep the anchor's actor pixels"
    mask = full[matches[0] : matches[0] + 8]
    assert float((~same[~mask]).float().mean()) > 0.5  # the background is another video's


def test_actor_swap_needs_the_benchmarks_masks(tmp_path, smoke_bench):
    lst = tmp_path / "list.txt"
    lst.write_text(
        "".join(f"{smoke_bench}/videos/pretrain/{i:05d}.mp4 0\n" for i in range(2)).replace("videos/", "elsewhere/")
    )
    with pytest.raises(ValueError, match="actor masks need the embedded benchmark"):
        ClipDataset(lst, ClipSampler(frames=4, views=("anchor", "same_frames", "actor_swap")))


def test_shuffle_frames_permutes_exactly_the_chosen_clips():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(6 * 8, dtype=torch.float32).view(6, 1, 8, 1, 1).expand(6, 3, 8, 2, 2).contiguous()
    chosen = torch.tensor([True, False, True, False, True, True])
    y = shuffle_frames(x, chosen, g)
    assert torch.equal(y[~chosen], x[~chosen])
    for i in chosen.nonzero().flatten().tolist():
        order = y[i, 0, :, 0, 0]
        assert not torch.equal(order, x[i, 0, :, 0, 0])  # never the identity
        assert torch.equal(order.sort().values, x[i, 0, :, 0, 0])  # the same frames


def test_pan_moves_every_frame_by_its_time_in_the_labels_direction():
    x = torch.rand(5, 3, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    y = pan(x, torch.arange(5), step=2)  # none, left, right, up, down
    assert torch.equal(y[0], x[0])
    for t in range(4):
        assert torch.equal(y[1, :, t], x[1, :, t].roll(-2 * t, dims=-1))  # left
        assert torch.equal(y[2, :, t], x[2, :, t].roll(2 * t, dims=-1))  # right
        assert torch.equal(y[3, :, t], x[3, :, t].roll(-2 * t, dims=-2))  # up
        assert torch.equal(y[4, :, t], x[4, :, t].roll(2 * t, dims=-2))  # down


def test_the_controls_and_the_decomposition_views():
    assert MethodConfig(method="oracle_swap").views == ("anchor", "same_frames", "actor_swap")
    assert MethodConfig(method="be_other").views == ("anchor", "same_frames", "other_video")
    assert MethodConfig(method="frame_order").views == ("anchor",)
    assert MethodConfig(method="pan_direction").views == ("anchor",)
    assert MethodConfig(method="time_reversal").views == ("anchor", "same_frames")


@pytest.mark.parametrize("method", ["oracle_swap", "pan_direction", "frame_order", "time_reversal", "be_other"])
def test_the_controls_train(tmp_path, smoke_bench, method):
    cfg = make_cfg(tmp_path / method, smoke_bench, method, steps=12, lr=0.03, method_kw={"queue_size": 8})
    res = pretrain(cfg)
    loss = [r["loss"] for r in read_metrics(res.run_dir) if "loss" in r]
    assert len(loss) == 12 and all(np.isfinite(loss))
    assert (res.run_dir / "encoder.pt").is_file()


def test_the_centre_band_is_a_setting_checked_on_input():
    cfg = config_for("default", centre_band=[0.0, 1.0])  # a JSON list is taken as a tuple
    assert cfg.centre_band == (0.0, 1.0)
    xs = [_scene(cfg, "train_unbiased", i)["pos"][cfg.frames // 2, 0] for i in range(1, 400, 8)]  # rotations
    assert min(xs) < 0.2 * cfg.width and max(xs) > 0.8 * cfg.width  # anywhere on the torus (v2)
    with pytest.raises(ValueError, match="centre_band"):
        config_for("default", centre_band=(0.7, 0.3))


def test_the_translation_speed_is_a_setting_checked_on_input():
    """A translating actor moves ``speed`` (a fraction of the frame per frame) between frames:
    v5's default is three quarters of v3's, and ``speed=(0, 0)`` holds it still."""
    cfg = config_for("default")
    fast = config_for("default", speed=[0.015, 0.03])  # a JSON list is taken as a tuple
    assert fast.speed == (0.015, 0.03) and cfg.speed == (0.01125, 0.0225)
    for c in (cfg, fast):
        band = (c.centre_band[1] - c.centre_band[0]) * c.width
        for i in range(0, 80, 8):  # translate_left videos (label = index % 8)
            x = _scene(c, "train_unbiased", i)["pos"][:, 0]
            step = np.abs(np.diff(x))
            step = np.minimum(step, band - step)  # a wrap into the band is a step on its torus
            assert np.ptp(step) < 1e-9, "constant speed"
            assert c.speed[0] * c.width - 1e-9 <= step[0] <= c.speed[1] * c.width + 1e-9
    still = config_for("default", speed=(0.0, 0.0))
    assert np.ptp(_scene(still, "train_unbiased", 0)["pos"], axis=0).max() == 0.0
    with pytest.raises(ValueError, match="speed"):
        config_for("default", speed=(0.02, 0.01))
