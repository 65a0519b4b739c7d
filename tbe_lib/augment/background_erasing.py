"""Background Erasing (BE): mix one static frame of a clip into every frame of it.

For a clip ``x`` with frames ``x_1 .. x_T`` BE picks a frame index ``k`` and a weight
``lam`` and returns ``x~_j = (1 - lam) * x_j + lam * x_k`` for every ``j``.

What the paper's code does (``SpatialMixup(0.3, version=2)``, see
``shared/reference/original-code.md`` §1.3) and what this module matches:

* ``lam ~ U[0, alpha)`` with ``alpha = 0.3``, drawn **once per batch**: every clip of a
  batch shares the same ``lam``. This is our default, so that numbers are comparable with
  the paper. ``lam_per_clip=True`` draws one ``lam`` per clip instead (an ablation: it
  gives the model a wider mix of strengths inside one batch).
* ``k`` is drawn per clip, uniformly over the clip's ``T`` frames (``source="intra"``).
  The paper's code also contains an unused inter-video variant, where the static frame
  comes from another clip of the batch; ``source="inter"`` gives it (a random
  permutation of the batch, as in the original).

Differences from the original, on purpose: one vectorised ``lerp`` instead of Python loops
over batch and frames, any device/dtype, an explicit ``generator`` for determinism (on the
GPU, pass a generator on the GPU: the draws then stay there and BE never synchronises with
the host), and no in-place aliasing (the static frames are gathered into a separate tensor before mixing,
so ``inplace=True`` is safe).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["background_erasing", "BackgroundErasing", "sample_be_params"]

Source = Literal["intra", "inter"]


def _check_clip_batch(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"background_erasing expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 5:
        raise ValueError(
            "background_erasing expects a batch of clips of shape (B, C, T, H, W) (5 dims), "
            f"got shape {tuple(x.shape)} ({x.dim()} dims); add a batch dim with x.unsqueeze(0) for one clip"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"background_erasing expects a floating-point tensor, got dtype {x.dtype}; "
            "convert uint8 clips first, e.g. x.float() / 255"
        )
    if x.shape[2] < 1 or x.shape[0] < 1:
        raise ValueError(f"background_erasing needs at least one clip and one frame, got shape {tuple(x.shape)}")


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) on the generator's device (CPU by default), then moved to ``device``."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def sample_be_params(
    batch: int,
    frames: int,
    alpha: float = 0.3,
    *,
    lam_per_clip: bool = False,
    source: Source = "intra",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw the random parameters of one BE call.

    Returns ``(lam, index, donor)``, all on ``device``:

    * ``lam``: float32 tensor of shape ``(B,)``; ``U[0, alpha)``, one value repeated for
      the whole batch unless ``lam_per_clip``.
    * ``index``: int64 ``(B,)``, the static frame of each clip, uniform over ``[0, T)``.
    * ``donor``: int64 ``(B,)``, which clip the static frame is taken from: ``arange(B)``
      for ``source="intra"``, a random permutation for ``source="inter"``.
    """
    lam, index, donor = _draw(batch, frames, alpha, lam_per_clip, source, generator, torch.device(device))
    lam = lam.expand(batch).contiguous()
    donor = donor if donor is not None else torch.arange(batch, device=device)
    return lam, index, donor


def _draw(
    batch: int,
    frames: int,
    alpha: float,
    lam_per_clip: bool,
    source: str,
    generator: torch.Generator | None,
    device: torch.device,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The draws of one call, in this order (fixed: it defines the random stream): ``lam``
    ``(B,)`` or ``(1,)``, ``index`` ``(B,)``, and for ``source="inter"`` the permutation
    ``donor`` ``(B,)`` (None for ``"intra"``). Made on the generator's device, moved to ``device``."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    if source not in ("intra", "inter"):
        raise ValueError(f"source must be 'intra' or 'inter', got {source!r}")
    gen_device = generator.device if generator is not None else torch.device("cpu")
    lam = _rand((batch if lam_per_clip else 1,), generator, device) * alpha
    index = torch.randint(frames, (batch,), generator=generator, device=gen_device).to(device)
    donor = torch.randperm(batch, generator=generator, device=gen_device).to(device) if source == "inter" else None
    return lam, index, donor


def background_erasing(
    x: Tensor,
    alpha: float = 0.3,
    *,
    lam: float | Tensor | None = None,
    index: Tensor | None = None,
    generator: torch.Generator | None = None,
    inplace: bool = False,
    lam_per_clip: bool = False,
    source: Source = "intra",
) -> Tensor:
    """Background Erasing: ``out[i, :, j] = (1 - lam_i) * x[i, :, j] + lam_i * x[d_i, :, k_i]``.

    Args:
        x: batch of clips, shape ``(B, C, T, H, W)``, any floating dtype, any device.
            Mixing is affine, so it gives the same result before or after normalisation.
        alpha: upper bound of the random weight, ``lam ~ U[0, alpha)``; must be in ``[0, 1)``.
        lam: fixed weight(s) instead of random ones: a float for the whole batch, or a
            tensor of shape ``(B,)`` (one per clip).
        index: LongTensor ``(B,)`` of static-frame indices ``k_i`` in ``[0, T)``; random
            (uniform) when ``None``.
        generator: ``torch.Generator`` for the random draws (deterministic given its seed).
            Draws are made on the generator's device (CPU when ``None``) and moved to ``x``'s.
        inplace: write the result into ``x`` (saves one allocation). Safe: the static frames
            are copied before ``x`` is overwritten.
        lam_per_clip: draw one random ``lam`` per clip instead of the paper's one per batch.
            Ignored when ``lam`` is given.
        source: ``"intra"`` (the paper): the static frame comes from the clip itself;
            ``"inter"``: from another clip of the batch (a random permutation, ``d_i``).

    Returns:
        The mixed batch, same shape, dtype and device as ``x`` (``x`` itself if ``inplace``).

    Raises:
        ValueError: if ``x`` is not a 5-D floating tensor, ``alpha`` is outside ``[0, 1)``,
            or ``lam``/``index`` have the wrong shape or range.
    """
    _check_clip_batch(x)
    B, C, T, H, W = x.shape
    rand_lam, rand_index, donor = _draw(B, T, alpha, lam_per_clip, source, generator, x.device)
    if index is None:
        index = rand_index
    else:
        index = torch.as_tensor(index, device=x.device)
        if index.shape != (B,) or index.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"index must be an integer tensor of shape ({B},), got {tuple(index.shape)} {index.dtype}")
        if bool(((index < 0) | (index >= T)).any()):
            raise ValueError(f"index values must lie in [0, {T}), got {index.tolist()}")
        index = index.long()

    # static: (B, C, 1, H, W), a gathered copy, so in-place mixing cannot alias it.
    if donor is None:  # intra: frame index[i] of clip i, one gather kernel
        static = x.gather(2, index.view(B, 1, 1, 1, 1).expand(B, C, 1, H, W))
    else:  # inter: frame index[i] of clip donor[i]
        static = x[donor, :, index].unsqueeze(2)

    if lam is None:
        # One λ per batch: a Python float on CPU (the cheapest kernel); on an accelerator a
        # (1,) tensor, so that BE never waits for the device (no host sync).
        lam_t: Tensor | float = rand_lam if lam_per_clip or x.device.type != "cpu" else float(rand_lam[0])
    elif isinstance(lam, Tensor):
        if lam.dim() == 0:
            lam_t = float(lam)
        elif lam.shape == (B,):
            lam_t = lam
        else:
            raise ValueError(f"lam must be a float or a tensor of shape ({B},), got shape {tuple(lam.shape)}")
    else:
        lam_t = float(lam)
    if isinstance(lam_t, float) and not 0.0 <= lam_t <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam_t}")

    if isinstance(lam_t, Tensor):
        w = lam_t.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1, 1)  # (B or 1, 1, 1, 1, 1)
        return x.lerp_(static, w) if inplace else torch.lerp(x, static, w)
    # One scalar weight for the batch: the cheapest kernel.
    return x.lerp_(static, lam_t) if inplace else torch.lerp(x, static, lam_t)


class BackgroundErasing(nn.Module):
    """``nn.Module`` / transform form of :func:`background_erasing` for use in a pipeline.

    Example::

        be = BackgroundErasing(alpha=0.3)
        q = be(clips)             # (B, C, T, H, W) -> same shape

    A single clip ``(C, T, H, W)`` is accepted too and returned without the batch dim.
    ``p`` is the probability of applying BE to a call (1.0, as in the paper).
    """

    def __init__(
        self,
        alpha: float = 0.3,
        *,
        lam_per_clip: bool = False,
        source: Source = "intra",
        p: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.alpha, self.lam_per_clip, self.source, self.p = alpha, lam_per_clip, source, p
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        single = isinstance(x, Tensor) and x.dim() == 4
        xb = x.unsqueeze(0) if single else x
        if self.p < 1.0:
            gen_device = self.generator.device if self.generator is not None else torch.device("cpu")
            if float(torch.rand((), generator=self.generator, device=gen_device)) >= self.p:
                return x.clone()
        out = background_erasing(
            xb, self.alpha, lam_per_clip=self.lam_per_clip, source=self.source, generator=self.generator
        )
        return out.squeeze(0) if single else out

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, lam_per_clip={self.lam_per_clip}, source={self.source!r}, p={self.p}"
