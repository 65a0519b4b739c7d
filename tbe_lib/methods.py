"""The pretraining methods: ``moco``, ``be``, ``be_triplet`` and ``pretext``.

Each method says which views of a video it needs (``views``, names understood by the data
sampler) and computes a loss from a batch of augmented views. The training engine
(``tbe_lib.train``) is the same for all of them.

=============  =========================================  ==========================================
method         views (query / key / negative)             loss
=============  =========================================  ==========================================
``moco``       anchor / same frames, other augmentation   InfoNCE over [q·k, q·queue (, q·n)]
               (/ a clip of another video: the paper's
               "MoCo baseline" extra negative, optional)
``be``         BE(anchor) / same frames, clean            InfoNCE as ``moco``; n = a temporally
               (/ another time of the same video)         different clip of the same video (option)
``be_triplet`` BE(anchor) / same frames / other time      TripletMargin(q,k,n) + TripletMargin(q,k,
                                                          flip_batch(n)), margin 0.5, online encoder
``pretext``    anchor                                     CE(transformation) + w·MSE(f(x), f(BE(x)))
=============  =========================================  ==========================================

See ``shared/reference/original-code.md`` §1 for what the paper's code does; differences are
noted where they occur.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .augment import background_erasing
from .moco import MoCo

__all__ = ["MethodConfig", "build_method", "METHODS", "Method"]

METHODS = ("moco", "be", "be_triplet", "pretext")


@dataclass
class MethodConfig:
    """Everything that defines a pretraining method (the backbone is chosen separately).

    Defaults are the paper's (original-code.md §1.3-1.6) except ``queue_size`` (the paper
    uses 3569 on UCF/HMDB-sized data; set it to at most the number of pretraining videos)."""

    method: Literal["moco", "be", "be_triplet", "pretext"] = "be"
    dim: int = 128  # embedding size of the projection head
    proj_hidden: int | None = None  # None: one Linear layer (the paper); int: an MLP head
    queue_size: int = 1024
    momentum: float = 0.999
    temperature: float = 0.07
    bn_groups: int = 2  # shuffling-BN groups over all processes (1 disables it)
    extra_negative: bool = False  # the paper's extra negative logit (moco: other video; be: other time)
    be_alpha: float = 0.3  # λ ~ U[0, be_alpha)
    be_lam_per_clip: bool = False  # paper: one λ per batch
    be_source: Literal["intra", "inter"] = "intra"  # paper: intra (the clip's own frame)
    triplet_margin: float = 0.5
    pretext_task: Literal["rotation", "flip", "rotation+flip"] = "rotation"
    pretext_be_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not 0.0 <= self.be_alpha < 1.0:
            raise ValueError(f"be_alpha must be in [0, 1), got {self.be_alpha}")

    @property
    def views(self) -> tuple[str, ...]:
        """Views the sampler must return per video, in order."""
        if self.method == "moco":
            return ("anchor", "same_frames", "other_video") if self.extra_negative else ("anchor", "same_frames")
        if self.method == "be":
            return ("anchor", "same_frames", "other_time") if self.extra_negative else ("anchor", "same_frames")
        if self.method == "be_triplet":
            return ("anchor", "same_frames", "other_time")
        return ("anchor",)


class Method(nn.Module):
    """Base class: ``forward(views, generator)`` returns ``(loss, metrics)``, the metrics as
    0-dim tensors (the engine reads them once per log interval, so a step never waits for the
    device); ``after_step()`` runs after each optimiser step (momentum update, enqueue)."""

    cfg: MethodConfig

    def after_step(self) -> None:  # pragma: no cover - trivial default
        pass

    def backbone_state(self) -> dict[str, Tensor]:
        """State dict of the encoder to transfer to finetuning (backbone + head)."""
        raise NotImplementedError


class ContrastiveMethod(Method):
    """``moco`` and ``be``: MoCo where the query is the anchor, or BE(anchor) for ``be``."""

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.moco = MoCo(encoder, cfg.dim, cfg.queue_size, cfg.momentum, cfg.temperature, cfg.bn_groups)
        self._pending_keys: Tensor | None = None

    def forward(self, views: list[Tensor], generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        anchor, key = views[0], views[1]  # (N, 3, T, H, W) each, augmented separately
        negative = views[2] if len(views) > 2 else None
        if self.cfg.method == "be":
            anchor = background_erasing(anchor, self.cfg.be_alpha, generator=generator,
                                        lam_per_clip=self.cfg.be_lam_per_clip, source=self.cfg.be_source)
        logits, k = self.moco(anchor, key, negative)  # (N, 1+K(+1)), (N, C)
        self._pending_keys = k
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            p_pos = logits.float().softmax(1)[:, 0].mean()
            acc = (logits.argmax(1) == 0).float().mean()
        return loss, {"p_pos": p_pos, "acc": acc}  # 0-dim tensors: read by the engine once per log, no sync here

    @torch.no_grad()
    def after_step(self) -> None:
        self.moco.momentum_update()
        if self._pending_keys is not None:
            self.moco.enqueue(self._pending_keys)
            self._pending_keys = None

    def backbone_state(self) -> dict[str, Tensor]:
        return self.moco.encoder_q.state_dict()


class TripletMethod(Method):
    """``be_triplet``: all three clips through the online encoder, no queue and no EMA.

    Loss = TripletMargin(BE(a), p, n) + TripletMargin(BE(a), p, flip_batch(n)): the second,
    "inter" term pairs each anchor with the negative of the batch-reversed sample, as in the
    paper's ``pt.py`` (which crashes as released, original-code.md §1.5)."""

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        self.loss = nn.TripletMarginLoss(margin=cfg.triplet_margin, p=2)

    def forward(self, views: list[Tensor], generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        a, p, n = views[0], views[1], views[2]
        a = background_erasing(a, self.cfg.be_alpha, generator=generator, lam_per_clip=self.cfg.be_lam_per_clip,
                               source=self.cfg.be_source)
        q, k, neg = self.encoder(a), self.encoder(p), self.encoder(n)  # (N, C) each
        loss = self.loss(q.float(), k.float(), neg.float()) + self.loss(q.float(), k.float(), neg.flip(0).float())
        with torch.no_grad():
            d_pos = (q - k).norm(dim=1)
            d_neg = (q - neg).norm(dim=1)
            # Probability-like summary comparable to the contrastive methods: softmax over -distances.
            p_pos = torch.softmax(torch.stack([-d_pos, -d_neg], 1), 1)[:, 0].mean()
            acc = (d_pos < d_neg).float().mean()
        return loss, {"p_pos": p_pos, "acc": acc}

    def backbone_state(self) -> dict[str, Tensor]:
        return self.encoder.state_dict()


def _transform_labels(task: str, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    classes = {"rotation": 4, "flip": 2, "rotation+flip": 8}[task]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randint(classes, (n,), generator=generator, device=gen_device).to(device)


def apply_transform(x: Tensor, labels: Tensor, task: str) -> Tensor:
    """Apply the pretext transformation ``labels[i]`` to clip i of ``x`` (N, C, T, H, W).

    rotation: label r rotates every frame by r·90°; flip: label 1 reverses time;
    rotation+flip: label = 2·r + f. Vectorised by grouping clips with the same label."""
    out = x.clone()
    for lab in labels.unique().tolist():  # at most 8 groups, not a loop over the batch
        sel = labels == lab
        clip = x[sel]
        r, f = (lab, 0) if task == "rotation" else (0, lab) if task == "flip" else (lab // 2, lab % 2)
        if r:
            clip = torch.rot90(clip, r, dims=(3, 4))
        if f:
            clip = clip.flip(2)
        out[sel] = clip
    return out


class PretextMethod(Method):
    """``pretext``: predict the transformation of the clip (rotation and/or time reversal)
    from backbone features, plus BE as a consistency term: MSE between the features of the
    clip and of its BE version. The paper's Pretext code was never released
    (original-code.md §0), so this follows the paper's text, not code."""

    def __init__(self, encoder: nn.Module, cfg: MethodConfig, feature_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder  # VideoModel: .features(x) -> (N, D)
        classes = {"rotation": 4, "flip": 2, "rotation+flip": 8}[cfg.pretext_task]
        self.classifier = nn.Linear(feature_dim, classes)

    def forward(self, views: list[Tensor], generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        x = views[0]
        if self.cfg.pretext_task != "flip" and x.shape[-1] != x.shape[-2]:
            raise ValueError(f"rotation pretext needs square frames, got {tuple(x.shape[-2:])}")
        labels = _transform_labels(self.cfg.pretext_task, x.shape[0], generator, x.device)
        xt = apply_transform(x, labels, self.cfg.pretext_task)
        xb = background_erasing(xt, self.cfg.be_alpha, generator=generator, lam_per_clip=self.cfg.be_lam_per_clip,
                                source=self.cfg.be_source)
        f = self.encoder.features(torch.cat([xt, xb], 0))  # (2N, D): one BN batch for both
        f_x, f_be = f.chunk(2)
        logits = self.classifier(f_x)
        ce = F.cross_entropy(logits.float(), labels)
        mse = F.mse_loss(F.normalize(f_be.float(), dim=1), F.normalize(f_x.float(), dim=1))
        loss = ce + self.cfg.pretext_be_weight * mse
        with torch.no_grad():
            acc = (logits.argmax(1) == labels).float().mean()
            p_pos = logits.float().softmax(1).gather(1, labels[:, None]).mean()
        return loss, {"p_pos": p_pos, "acc": acc, "ce": ce.detach(), "be_mse": mse.detach()}

    def backbone_state(self) -> dict[str, Tensor]:
        return self.encoder.state_dict()


def build_method(backbone: str, cfg: MethodConfig, **backbone_kw) -> Method:
    """The method module for ``cfg`` around a fresh ``backbone`` (a name of the model registry)."""
    from .models import build_model

    encoder = build_model(backbone, head="projection", proj_dim=cfg.dim, proj_hidden=cfg.proj_hidden, **backbone_kw)
    if cfg.method in ("moco", "be"):
        return ContrastiveMethod(encoder, cfg)
    if cfg.method == "be_triplet":
        return TripletMethod(encoder, cfg)
    return PretextMethod(encoder, cfg, encoder.backbone.feature_dim)
