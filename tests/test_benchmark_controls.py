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


def test_the_actors_position_is_the_same_for_every_class_at_the_middle_frame_and_drifts_at_the_ends():
    """At the middle frame (the centre of the test clip) left- and right-movers stand in the same
    places, all within the central band; in the first frame a right-mover is left of its
    centre, which a single frame could read (chapter 2 measures how much: ``frame_leak``)."""
    cfg = config_for("default", n_train_unbiased=1600)
    x: dict[str, list[tuple[float, float]]] = {c: [] for c in CLASS_NAMES}
    for i in range(cfg.n_train_unbiased):
        sc = _scene(cfg, "train_unbiased", i)
        x[sc["class_name"]].append((sc["pos"][cfg.frames // 2, 0], sc["pos"][0, 0] % cfg.width))
    mid = {c: np.array([m for m, _ in v]) for c, v in x.items()}
    left, right = np.sort(mid["translate_left"]), np.sort(mid["translate_right"])
    grid = np.linspace(0, cfg.width, 65)
    ks = np.abs(np.searchsorted(left, grid) / len(left) - np.searchsorted(right, grid) / len(right)).max()
    assert ks < 0.15, f"middle-frame x of left vs right movers differ (KS {ks:.2f})"
    for c in ("rotate_cw", "approach"):  # static centres: inside the band [0.3, 0.7]
        assert mid[c].min() >= 0.3 * cfg.width and mid[c].max() <= 0.7 * cfg.width
    first_left = np.mean([f for _, f in x["translate_left"]])
    first_right = np.mean([f for _, f in x["translate_right"]])
    assert first_left - first_right > 0.2 * cfg.width  # the drift a fixed end frame shows


def test_the_actor_never_leaves_the_view_it_wraps_around_the_edges(smoke_bench):
    masks = load_masks(smoke_bench, "train")  # (N, T, H, W)
    assert masks.shape[1] == 32
    assert masks.any((2, 3)).all(), "the actor left the view in some frame"
    cfg = config_for("default")
    wrapped = [
        i
        for i in range(0, 400, 8)  # translate_left videos (label = index % 8)
        if _scene(cfg, "train_unbiased", i)["pos"][-1, 0] < 0  # past the left edge by the last frame
    ]
    assert wrapped, "no left-mover reached the edge: the wrap is not exercised"
    from tbe_lib.data.synth.scenes import actor_masks

    m = actor_masks(cfg, "train_unbiased", wrapped[0])[-1]  # (H, W), last frame
    assert m[:, -1].any(), "an actor past the left edge is drawn on the right"


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
