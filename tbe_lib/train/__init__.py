"""The training engine shared by pretraining and finetuning."""

from .engine import LoopConfig, Trainer, TrainingDiverged, autocast_dtype
from .rundir import RunDir, read_metrics
from .schedule import build_scheduler
from .state import IncompatibleCheckpoint

__all__ = [
    "LoopConfig",
    "Trainer",
    "TrainingDiverged",
    "autocast_dtype",
    "RunDir",
    "read_metrics",
    "build_scheduler",
    "IncompatibleCheckpoint",
]
