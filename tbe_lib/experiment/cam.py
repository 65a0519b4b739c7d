"""Where the finetuned classifiers look: Grad-CAM on test videos and the share of its mass on the actor.

:class:`CamClips` says which videos and how they are cut (the finetuned classifiers' test-time
geometry); :class:`CamConfig` adds the models and the file the measure goes to. Both are made
from a :class:`~tbe_lib.experiment.CompareConfig` by :mod:`.plan`; nothing here reads one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import Tensor

from ..augment.video import VideoEval
from ..data.dataset import ClipDataset, ClipSampler, collate_clips
from ..data.listfile import resolve_list
from ..data.sampling import center_clip
from ..data.synth import load_masks, load_metadata
from ..models import model_from_checkpoint
from ..viz.cam import actor_area_share, actor_mass, compute_cam, set_cam_layer
from .staleness import file_digest

__all__ = ["CamClips", "CamConfig", "load_clips", "measure_actor_mass", "CAM_METHOD"]

CAM_METHOD = "gradcam, predicted class, deepest stage with >= 4x4 maps (set_cam_layer)"


@dataclass(frozen=True)
class CamClips:
    """The first ``n_videos`` videos of ``split`` of ``data`` (a benchmark folder, a list
    folder or a list template) as the finetuned classifiers see them at test time: centre
    clips of ``frames`` frames at ``stride``, resized (short side ``resize``) and centre-cropped
    to ``size``. ``masks``: load the actor masks (the embedded benchmark only)."""

    data: str
    split: str
    n_videos: int
    frames: int
    stride: int
    size: int
    resize: int | None = None
    root: str | None = None
    masks: bool = False


@dataclass(frozen=True)
class CamConfig:
    """The activation maps of one condition and seed: ``models`` (row -> finetuned
    ``model.pt``) on ``clips``, measured into ``out`` (``actor_mass.json``)."""

    out: str
    clips: CamClips
    models: Mapping[str, str] = field(default_factory=dict)


def load_clips(c: CamClips) -> tuple[Tensor, Tensor, Tensor | None]:
    """The clips, uint8 (N, 3, T, S, S); their labels (N,); and, with ``c.masks``, the actor
    masks of the same frames, bool (N, T, S, S) (else ``None``)."""
    ds = ClipDataset(
        resolve_list(c.data, c.split), ClipSampler(frames=c.frames, stride=c.stride, mode="center"), root=c.root
    )
    items = [ds[i] for i in range(min(c.n_videos, len(ds)))]
    batch = collate_clips(items)  # clips (N, 3, T, H, W) uint8, padded when the videos' sizes differ
    clips, labels = batch.clips, batch.labels
    if not bool((batch.sizes == c.size).all()):  # the test-time geometry, without normalising
        clips = VideoEval(c.size, resize=c.resize).crop(clips, batch.sizes).contiguous()
    if not c.masks:
        return clips, labels, None
    meta = load_metadata(c.data)
    in_split = meta.split == c.split
    index_of = dict(zip(meta.path[in_split], meta["index"][in_split]))
    all_masks = load_masks(c.data, c.split)  # (N_split, T_video, H, W)
    if tuple(all_masks.shape[-2:]) != (c.size, c.size):
        raise ValueError(
            f"actor masks are {tuple(all_masks.shape[-2:])} but the classifiers see {c.size}x{c.size} "
            "crops; measure the benchmark at its own size (finetune_size = the videos' size)"
        )
    rows = [int(index_of[ds.videos.records[it.index].path]) for it in items]
    t = center_clip(all_masks.shape[1], c.frames, c.stride)
    return clips, labels, torch.from_numpy(np.ascontiguousarray(all_masks[rows][:, t]))


def measure_actor_mass(cc: CamConfig) -> Path:
    """Grad-CAM (predicted class) of every model on the clips; writes ``cc.out`` with, per row,
    the mean actor mass, the actor's area share, their ratio (1: no preference for the actor),
    the number of videos they average over (a map that is all zero has no actor mass), the
    accuracy on these videos and the model's digest."""
    clips, labels, masks = load_clips(cc.clips)
    if masks is None:
        raise ValueError("the actor mass needs actor masks: CamClips(masks=True), on the embedded benchmark")
    x = VideoEval(cc.clips.size, resize=cc.clips.size)(clips)  # already resized and cropped: normalise only
    rows = {}
    for row, path in cc.models.items():
        model = model_from_checkpoint(path)
        set_cam_layer(model, x.shape[1:])
        res = compute_cam(model, x, None)
        mass, area = actor_mass(res.maps, masks), actor_area_share(masks)
        rows[row] = {
            "actor_mass": float(mass.nanmean()),
            "actor_area": float(area.nanmean()),
            "actor_mass_ratio": float((mass / area).nanmean()),
            "pred_acc": float((res.classes.cpu() == labels).float().mean() * 100),
            # videos whose map is all zero have no actor mass: left out of the means, counted here
            "n_measured": int(torch.isfinite(mass / area).sum()),
            "model_sha256": file_digest(path),
        }
    out = Path(cc.out)
    out.write_text(
        json.dumps(
            {"rows": rows, "split": cc.clips.split, "n_videos": int(len(labels)), "method": CAM_METHOD}, indent=2
        )
        + "\n"
    )
    return out
