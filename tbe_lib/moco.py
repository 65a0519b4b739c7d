"""MoCo for video: query encoder, momentum key encoder, a queue of negatives, InfoNCE logits.

The whole contrastive machinery of the paper in one class (``MoCo``); BE only changes which
clip is the query (see ``tbe_lib.methods``). Shapes: N = local batch, C = 128 (embedding),
K = queue length, W = number of processes.

What the paper's code does (``shared/reference/original-code.md`` §1.4) and what we do:

* key encoder = EMA of the query encoder, ``θ_k ← m·θ_k + (1−m)·θ_q`` with m = 0.999,
  parameters only (BN buffers are not averaged); it runs in train mode, so BN uses batch
  statistics. Same here.
* InfoNCE with temperature 0.07 over ``[q·k, q·queue, (q·n)]``: one positive, K queue
  negatives, and optionally the paper's one *extra negative* ``n`` per sample (a clip encoded
  by the **query** encoder, gradients flowing through it). ``extra_negative=False`` gives
  plain MoCo.
* Shuffling BN: the paper's code has it commented out; we do it as MoCo does. Keys are
  encoded in ``bn_groups`` groups with their own BN statistics after a random permutation of
  the batch, so a query and its key never share BN statistics. Across processes the
  permutation is global (each process is one or more groups); in one process the batch is
  split into groups, so ``bn_groups=2`` in one process behaves like 2 processes with one
  group each. (A permutation inside one BN batch would change nothing: BN statistics are
  permutation invariant.)
* The queue starts as random unit vectors (the paper: uniform in ±1/√(C/3), unnormalised),
  stores keys only, and wraps around for any batch size.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import distributed as D

__all__ = ["MoCo", "grouped_forward", "info_nce_logits"]


def grouped_forward(encoder: nn.Module, x: Tensor, groups: int) -> Tensor:
    """Encode ``x`` (N, ...) in ``groups`` contiguous chunks, each with its own BN statistics."""
    if groups <= 1 or x.shape[0] < 2:
        return encoder(x)
    return torch.cat([encoder(c) for c in x.chunk(groups)], 0)


def info_nce_logits(q: Tensor, k: Tensor, queue: Tensor, n: Tensor | None, temperature: float) -> Tensor:
    """Logits ``[q·k, q·queue_1..K, (q·n)] / T``: (N, 1 + K (+1)), the positive in column 0.

    q, k, n: (N, C) unit vectors; queue: (K, C)."""
    l_pos = (q * k).sum(1, keepdim=True)  # (N, 1)
    l_neg = q @ queue.t()  # (N, K)
    parts = [l_pos, l_neg]
    if n is not None:
        parts.append((q * n).sum(1, keepdim=True))  # (N, 1): the paper's extra negative
    return torch.cat(parts, 1) / temperature


class MoCo(nn.Module):
    """Momentum-contrast head around an encoder that maps clips to unit vectors (N, C).

    Args:
        encoder: the query encoder (e.g. ``build_model(name, head="projection")``); a deep copy
            becomes the key encoder.
        dim: embedding size C (128 in the paper).
        queue_size: K (the paper's UCF/HMDB/Diving scripts: 3569; Kinetics: 65536).
        momentum: m of the key encoder's EMA (0.999).
        temperature: T of InfoNCE (0.07).
        bn_groups: total number of BN groups over all processes for shuffling BN (1 = off).
    """

    def __init__(
        self,
        encoder: nn.Module,
        dim: int = 128,
        queue_size: int = 4096,
        momentum: float = 0.999,
        temperature: float = 0.07,
        bn_groups: int = 2,
        group_queries: bool = False,
    ) -> None:
        super().__init__()
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.encoder_q = encoder
        self.encoder_k = copy.deepcopy(encoder)
        for p in self.encoder_k.parameters():
            p.requires_grad_(False)
        self.momentum, self.temperature, self.bn_groups = momentum, temperature, bn_groups
        self.group_queries = group_queries
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))  # (K, C)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @property
    def local_groups(self) -> int:
        """BN groups inside this process: ``bn_groups / world_size`` (at least 1)."""
        return max(1, self.bn_groups // D.world_size())

    @torch.no_grad()
    def momentum_update(self) -> None:
        """θ_k ← m·θ_k + (1−m)·θ_q, parameters only (as the paper and MoCo)."""
        k_params = list(self.encoder_k.parameters())
        q_params = [p.detach() for p in self.encoder_q.parameters()]
        torch._foreach_mul_(k_params, self.momentum)  # one fused call per list, not per tensor
        torch._foreach_add_(k_params, q_params, alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append keys (N, C) from all processes to the queue, overwriting the oldest."""
        keys = D.concat_all_gather(keys.detach()).to(self.queue.dtype)  # (W*N, C)
        K = self.queue.shape[0]
        keys = keys[-K:]  # more keys than slots: only the newest K survive
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % K  # (n,) on the device
        self.queue.index_copy_(0, idx, keys)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % K)  # no host sync

    def encode_query(self, x: Tensor) -> Tensor:
        """Query embeddings (N, C): one BN batch per process (or ``local_groups`` groups)."""
        return grouped_forward(self.encoder_q, x, self.local_groups if self.group_queries else 1)

    @torch.no_grad()
    def encode_key(self, x: Tensor) -> Tensor:
        """Key embeddings (N, C) by the momentum encoder, with shuffled BN groups."""
        groups = self.local_groups
        if self.bn_groups <= 1:
            return self.encoder_k(x)
        # index_select rather than x[perm]: inductor's randperm+index pattern crashed torch 2.11's
        # compiler on CUDA ("Not all inputs to pattern found ... slice_shape"), and it is the same op.
        if D.world_size() == 1:
            perm = torch.randperm(x.shape[0], device=x.device)
            k = grouped_forward(self.encoder_k, x.index_select(0, perm), groups)
            return k.index_select(0, torch.argsort(perm))
        # Several processes: one permutation of the global batch, drawn on rank 0.
        x_all = D.concat_all_gather(x)  # (W*N, ...)
        W, r = D.world_size(), D.rank()
        perm = D.broadcast(torch.randperm(x_all.shape[0], device=x.device), 0)
        k_local = grouped_forward(self.encoder_k, x_all.index_select(0, perm.view(W, -1)[r]), groups)
        k_all = D.concat_all_gather(k_local)
        return k_all.index_select(0, torch.argsort(perm).view(W, -1)[r])

    def forward(self, query: Tensor, key: Tensor, negative: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Logits (N, 1+K(+1)) and the keys (N, C) to enqueue after the optimiser step.

        query, key, negative: clips (N, 3, T, H, W). The negative is encoded by the query encoder."""
        q = self.encode_query(query)  # (N, C)
        k = self.encode_key(key)  # (N, C)
        n = self.encode_query(negative) if negative is not None else None
        # The queue is read as is: it changes only in enqueue(), after the backward pass.
        logits = info_nce_logits(q, k, self.queue.to(q.dtype), n, self.temperature)
        return logits, k
