"""The paper's exact methods (``moco_paper``, ``be_paper``), its successor FAME (``fame``) and the
positive control (``arrow_of_time``): each learns on the smoke benchmark; FAME's mask, made from
frame differences and colours only, finds the benchmark's ground-truth actor."""

from __future__ import annotations

import torch
from test_pretrain import make_cfg

from tbe_lib.augment.fame import fame, foreground_mask
from tbe_lib.data.dataset import ClipDataset, ClipSampler
from tbe_lib.data.synth import load_masks, load_metadata
from tbe_lib.methods import MethodConfig
from tbe_lib.pretrain import pretrain
from tbe_lib.train import read_metrics


def test_the_paper_methods_always_have_their_extra_negative():
    assert MethodConfig(method="moco_paper").views == ("anchor", "same_frames", "other_video")
    assert MethodConfig(method="be_paper").views == ("anchor", "same_frames", "other_time")
    assert MethodConfig(method="be").views == ("anchor", "same_frames")  # the ablation without it


def _loss_goes_down(tmp_path, smoke_bench, method: str, lr: float) -> list[float]:
    cfg = make_cfg(tmp_path / method, smoke_bench, method, steps=30, lr=lr, method_kw={"queue_size": 8})
    cfg.backbone_kwargs = {}
    res = pretrain(cfg)
    loss = [r["loss"] for r in read_metrics(res.run_dir) if "loss" in r]
    assert len(loss) == 30 and all(torch.isfinite(torch.tensor(loss)))
    first, last = sum(loss[:10]) / 10, sum(loss[-10:]) / 10
    assert last < 0.95 * first, f"{method}: loss did not go down: first 10 steps {first:.4f}, last 10 {last:.4f}"
    return loss


def test_moco_paper_be_paper_and_fame_learn(tmp_path, smoke_bench):
    for method in ("moco_paper", "be_paper", "fame"):
        _loss_goes_down(tmp_path, smoke_bench, method, 0.03)


def test_arrow_of_time_learns_the_direction_where_time_has_one():
    """Clips whose content brightens over time: forward and backward differ, and the method
    learns which is which. (On the embedded benchmark it cannot: every motion class played
    backward is another class, so direction is not in the pixels; see the method's docstring.)"""
    from tbe_lib.methods import build_method

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.2, 1.0, 8).view(1, 1, 8, 1, 1)  # brightness rising frame by frame
    base = torch.rand(16, 3, 1, 16, 16, generator=g)
    x = (base * ramp - 0.5) / 0.25  # (16, 3, 8, 16, 16), normalised
    m = build_method(
        "r3d_tiny", MethodConfig(method="arrow_of_time"), widths=(8, 16), blocks=(1, 1), stem_stride=(1, 2, 2)
    )
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    accs = []
    for _ in range(30):
        loss, met = m([x], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        accs.append(float(met["acc"]))
    assert sum(accs[-10:]) / 10 > 0.9, accs


def _benchmark_clips(root, split):
    ds = ClipDataset(root / "lists" / f"{split}.txt", ClipSampler(frames=16, mode="center"))
    x = torch.stack([ds[i].clip for i in range(len(ds))]).float() / 255  # (N, 3, 16, H, W), whole videos
    meta = load_metadata(root)
    sel = meta.split == split
    index_of = dict(zip(meta.path[sel], meta["index"][sel]))
    rows = [int(index_of[r.path]) for r in ds.videos.records]
    actor = torch.from_numpy(load_masks(root, split)).any(1)[rows]  # (N, H, W): where the actor ever is
    return x, actor


def test_fames_mask_finds_the_actor_without_ground_truth(smoke_bench):
    """Static camera: the mask (half of the pixels) holds nearly all of the actor, and its IoU with
    the actor's region is about what a half-frame mask can reach, far above a random mask's."""
    x, actor = _benchmark_clips(smoke_bench, "test_shift")
    m = foreground_mask(x)[:, 0, 0].bool()  # (N, H, W)
    assert torch.allclose(m.float().mean((1, 2)), torch.full((len(m),), 0.5), atol=0.02)
    inter, union = (m & actor).sum((1, 2)).float(), (m | actor).sum((1, 2)).float()
    iou, recall = float((inter / union).mean()), float((inter / actor.sum((1, 2))).mean())
    rnd = torch.rand(m.shape, generator=torch.Generator().manual_seed(0)) < 0.5
    iou_random = float(((rnd & actor).sum((1, 2)).float() / (rnd | actor).sum((1, 2)).float()).mean())
    best = float((actor.float().mean((1, 2)) / 0.5).clamp(max=1).mean())  # a perfect half-frame mask's IoU
    print(
        f"FAME mask on test_shift: IoU {iou:.3f} (best possible {best:.3f}, random {iou_random:.3f}), "
        f"actor recall {recall:.3f}"
    )
    assert recall > 0.9 and iou > 2 * iou_random and iou > 0.8 * best


def test_fame_puts_each_foreground_on_another_clips_background():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 1, 16, 16, generator=g).repeat(1, 1, 8, 1, 1)  # static backgrounds
    x[:, :, :, 4:8, 4:8] += torch.arange(8).view(1, 1, 8, 1, 1) / 8  # something changes there
    y = fame(x, generator=torch.Generator().manual_seed(1))
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(1))
    m = foreground_mask(x)
    assert torch.equal(y, torch.where(m.bool(), x, x[perm]))
    assert bool(m[:, 0, 0, 4:8, 4:8].all())  # the moving square is foreground in every clip
