"""tbe_lib: Background Erasing (BE) for self-supervised video representation learning.

Reference implementation of Wang et al., "Removing the Background by Adding the Background:
Towards Background Robust Self-supervised Video Representation Learning", CVPR 2021.
"""

__version__ = "0.1.0"
