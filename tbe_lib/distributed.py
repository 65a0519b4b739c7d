"""Distributed helpers: the few collective operations MoCo-style training needs.

Everything here also works in a single process (no ``torch.distributed`` initialised), where
the collectives are identities. Launch with ``torchrun --nproc_per_node N``: ``init_from_env``
reads the variables torchrun sets and picks NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "is_dist",
    "rank",
    "world_size",
    "is_main",
    "init_from_env",
    "concat_all_gather",
    "broadcast",
    "barrier",
    "all_reduce_mean",
    "all_reduce_min",
]


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_dist() else 0


def world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env(device: torch.device | str = "auto") -> torch.device:
    """Initialise the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    Returns the device this process should use: ``cuda:LOCAL_RANK`` on GPU machines,
    CPU otherwise (backend gloo). A single process returns ``device`` unchanged."""
    from .utils import resolve_device

    dev = resolve_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_dist():
        return (
            dev if not is_dist() or dev.type != "cuda" else torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        )
    if dev.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return torch.device("cuda", local)
    dist.init_process_group("gloo")
    return torch.device("cpu")


@torch.no_grad()
def concat_all_gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` (N, ...) from every process along dim 0 -> (W*N, ...), rank order.
    No gradient flows through it (used for keys, which have none)."""
    if not is_dist() or world_size() == 1:
        return x
    out = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, 0)


def broadcast(x: Tensor, src: int = 0) -> Tensor:
    if is_dist() and world_size() > 1:
        dist.broadcast(x, src)
    return x


def barrier() -> None:
    if is_dist() and world_size() > 1:
        dist.barrier()


def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean of ``x`` over processes (a copy; ``x`` is not modified)."""
    if not is_dist() or world_size() == 1:
        return x
    y = x.detach().clone()
    dist.all_reduce(y)
    return y / world_size()


def all_reduce_min(x: Tensor) -> Tensor:
    """Element-wise minimum of ``x`` over processes (a copy; ``x`` is not modified)."""
    if not is_dist() or world_size() == 1:
        return x.detach().clone()
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.MIN)
    return y
