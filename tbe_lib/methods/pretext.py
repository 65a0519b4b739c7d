"""``pretext``: predict the transformation of the clip (rotation and/or time reversal) from
backbone features, plus BE as a consistency term: MSE between the normalised features of the
clip and of its BE version. The paper's Pretext code was never released (original-code.md
§0), so this follows the paper's text, not code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import background_erasing
from .base import Method, MethodConfig, register_method

__all__ = ["PretextMethod", "apply_transform", "transform_labels"]

_CLASSES = {"rotation": 4, "flip": 2, "rotation+flip": 8}


def transform_labels(task: str, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randint(_CLASSES[task], (n,), generator=generator, device=gen_device).to(device)


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


@register_method("pretext", label="Pretext + BE")
class PretextMethod(Method):
    """Predict the transformation (``cfg.pretext_task``, or the subclass's ``task``) and, with
    ``with_be``, keep the features of the clip and of its BE version close."""

    task: str | None = None  # a subclass that always predicts one transformation sets it
    with_be = True

    def __init__(self, encoder: nn.Module, cfg: MethodConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder  # VideoModel: .features(x) -> (N, D)
        self.task = self.task or cfg.pretext_task
        self.classifier = nn.Linear(encoder.backbone.feature_dim, _CLASSES[self.task])

    def forward(
        self, views: list[Tensor], generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        x = views[0]  # (N, 3, T, H, W)
        if self.task != "flip" and x.shape[-1] != x.shape[-2]:
            raise ValueError(f"rotation pretext needs square frames, got {tuple(x.shape[-2:])}")
        labels = transform_labels(self.task, x.shape[0], generator, x.device)  # (N,)
        xt = apply_transform(x, labels, self.task)
        metrics: dict[str, Tensor] = {}
        if self.with_be:
            c = self.cfg
            xb = background_erasing(
                xt, c.be_alpha, generator=generator, lam_per_clip=c.be_lam_per_clip, source=c.be_source
            )
            f_x, f_be = self.encoder.features(torch.cat([xt, xb], 0)).chunk(2)  # (N, D) each: one BN batch for both
        else:
            f_x = self.encoder.features(xt)  # (N, D)
        logits = self.classifier(f_x)  # (N, classes)
        ce = F.cross_entropy(logits.float(), labels)
        loss = ce
        if self.with_be:
            mse = F.mse_loss(F.normalize(f_be.float(), dim=1), F.normalize(f_x.float(), dim=1))
            loss = ce + self.cfg.pretext_be_weight * mse
            metrics["be_mse"] = mse.detach()
        with torch.no_grad():
            acc = (logits.argmax(1) == labels).float().mean()
            p_pos = logits.float().softmax(1).gather(1, labels[:, None]).mean()
        return loss, {"p_pos": p_pos, "acc": acc, "ce": ce.detach(), **metrics}
