"""Figures: frame strips of clips, class activation maps (Grad-CAM / CAM), overlays, the
actor-mass measure and an interactive viewer, also on anyone's checkpoints (:func:`open_viewer`,
``tbe view``). grad-cam and ipywidgets are imported lazily."""

from .cam import CamResult, actor_area_share, actor_mass, actor_mass_ratio, compute_cam, set_cam_layer, target_layer
from .frames import be_figure, frame_strip, to_display
from .launch import open_viewer
from .overlay import cam_strip, overlay, panel_frames, write_animation
from .viewer import CamViewer, MapStyle, default_preprocess, static_views

__all__ = [
    "be_figure",
    "frame_strip",
    "to_display",
    "CamResult",
    "compute_cam",
    "set_cam_layer",
    "target_layer",
    "actor_mass",
    "actor_area_share",
    "actor_mass_ratio",
    "overlay",
    "cam_strip",
    "write_animation",
    "panel_frames",
    "CamViewer",
    "open_viewer",
    "MapStyle",
    "static_views",
    "default_preprocess",
]
