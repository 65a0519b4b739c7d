"""A step-indexed sampler: the batches of a run are a pure function of (seed, step).

Epoch ``e`` is a permutation of the dataset drawn from ``seed + e``; it is cut into global
batches of ``batch_size * world_size`` (the last incomplete one is dropped, as the paper's code
skips short batches); process ``r`` takes its slice of each global batch. Starting at any step
gives exactly the batches an uninterrupted run would have seen from that step on, which is
what bit-for-bit resume needs, and the union over processes is the same batch whatever the
number of processes.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["StepSampler"]


class StepSampler(Sampler[tuple[int, tuple[int, int, int]]]):
    """Endless stream of dataset keys from ``start_step`` on (see module docstring).

    Yields ``batch_size`` keys ``(index, (seed, step, slot))`` per step for this process;
    use it with ``DataLoader(batch_size=batch_size, sampler=...)``. A
    :class:`~tbe_lib.data.dataset.ClipDataset` draws the item's random clip positions from
    that entropy, so they depend on the seed and the step only: not on workers, not on where
    the run was resumed, not on the number of processes."""

    def __init__(
        self, n: int, batch_size: int, *, seed: int = 0, start_step: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if n < 1:
            raise ValueError("the dataset is empty: no videos to sample from (check the list file and split)")
        global_batch = batch_size * world_size
        if n < global_batch:
            raise ValueError(
                f"the dataset has {n} videos, fewer than one global batch of {global_batch} "
                f"(batch {batch_size} x {world_size} processes); lower the batch size"
            )
        self.n, self.batch_size, self.seed, self.start_step = n, batch_size, seed, start_step
        self.rank, self.world_size = rank, world_size
        self.steps_per_epoch = n // global_batch

    def epoch_permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(self.n, generator=g)

    def batch_indices(self, step: int) -> torch.Tensor:
        """This process's indices of step ``step`` (0-based)."""
        epoch, k = divmod(step, self.steps_per_epoch)
        gb = self.batch_size * self.world_size
        glob = self.epoch_permutation(epoch)[k * gb : (k + 1) * gb]
        return glob[self.rank * self.batch_size : (self.rank + 1) * self.batch_size]

    def __iter__(self) -> Iterator[tuple[int, tuple[int, int, int]]]:
        step = self.start_step
        perm_epoch, perm = -1, None
        gb = self.batch_size * self.world_size
        while True:
            epoch, k = divmod(step, self.steps_per_epoch)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, self.epoch_permutation(epoch)
            glob = perm[k * gb : (k + 1) * gb].tolist()
            for slot in range(self.rank * self.batch_size, (self.rank + 1) * self.batch_size):
                yield glob[slot], (self.seed, step, slot)
            step += 1

    def __len__(self) -> int:  # endless; DataLoader only uses len for warnings
        return 2**62
