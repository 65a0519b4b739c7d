"""Video augmentations that run on batches, on whatever device the tensors are on."""

from .background_erasing import BackgroundErasing, background_erasing, sample_be_params
from .fame import fame, foreground_mask

__all__ = ["BackgroundErasing", "background_erasing", "sample_be_params", "fame", "foreground_mask"]
