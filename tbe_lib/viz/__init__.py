"""Figures: frame strips of clips (and, later, activation maps)."""
from .frames import be_figure, frame_strip, to_display

__all__ = ["be_figure", "frame_strip", "to_display"]
