"""The embedded background-trap benchmark: motion classes that no single frame can tell
apart, shown on backgrounds that (in the biased splits) predict the class.

Built only from data that ships inside installed wheels (no download): the 8x8 handwritten
digits of ``sklearn.datasets.load_digits`` are the actors, the photographs bundled with
scikit-image (``skimage/data/*.png|jpg``, read directly from disk) are the backgrounds.
A model that learned motion scores the same on ``test_same`` and ``test_shift``; a model
that learned the background scores high on ``test_same`` and near chance on ``test_shift``.

Classes (``CLASS_NAMES``, label = video index % 8): translate left/right/up/down, rotate
clockwise/counter-clockwise (spinning about the actor's centre), approach/recede (growing
/ shrinking). The scene model, the per-frame balance across classes and the background
rule are documented in :mod:`tbe_lib.data.synth.scenes`. In short: 8 "own" photographs
(one per class) and 6 "neutral" ones; in ``pretrain``/``train``/``test_same`` exactly
``round(bias * n_c)`` videos of class c use c's own photograph and the rest a random
neutral one; ``train_unbiased`` draws from all 14 uniformly; ``test_shift`` from the 6
neutral ones uniformly (never a class's own photograph).

Presets (``config_for(size)``; all store 32 frames per video; the book's clips are 16 frames
at random starts):

=========  =======  ========  =====  ==============  =========  ==========
size       H x W    pretrain  train  train_unbiased  test_same  test_shift
=========  =======  ========  =====  ==============  =========  ==========
default    32x32    2000      800    800             400        400
smoke      32x32    16        16     16              16         16
larger     64x64    2000      800    800             400        400
=========  =======  ========  =====  ==============  =========  ==========

Output folder layout (``generate(out_dir, cfg)``)::

    OUT/
      manifest.json            config, codec, class/background names, own-background map,
                               counts, version and hash (same hash -> generate() skips),
                               "complete": false until the run has finished
      metadata.csv             one row per video: split, index, path, label, class_name,
                               background_id, background_name, own_background, digit,
                               digit_index, colour, start_x/y (first frame) and
                               centre_x/y (trajectory centre) in scene pixels, scale
                               (actor side at the middle frame, px), speed (px/frame),
                               spin_deg, zoom, angle0_deg, camera parameters, bboxes
                               (JSON, per frame image [x0, y0, x1, y1] inclusive, -1 if
                               the actor is out of view)
      lists/{split}.txt        list files (format "video", header root "..": paths are
                               relative to OUT), read with tbe_lib.data.listfile.read_list
      videos/{split}/{index:05d}.mp4
                               H.264 (libx264, crf 12, keyframe every 8 frames) yuv420p,
                               or mpeg4 when PyAV's FFmpeg lacks libx264
      masks/{split}.npy        actor masks, np.packbits over width of bool (N, T, H, W);
                               read with load_masks(OUT, split)

Rendering is deterministic: video ``i`` of split ``s`` depends only on ``(seed, s, i)``
and the config, so any number of workers writes the same frames.

Typical use::

    from tbe_lib.data.synth import config_for, generate, load_metadata
    out = generate("data/synth", config_for("default", camera="static"))
"""

from .config import BIASED_SPLITS, CAMERAS, CLASS_NAMES, PRESETS, SPLITS, SynthConfig, config_for
from .generate import (
    SYNTH_VERSION,
    add_cli,
    config_hash,
    generate,
    load_manifest,
    load_masks,
    load_metadata,
    video_path,
)
from .scenes import (
    NEUTRAL_BACKGROUNDS,
    OWN_BACKGROUNDS,
    actor_masks,
    background_names,
    render_video,
    render_video_with_masks,
)
from .writer import resolve_codec, write_video

__all__ = [
    "SynthConfig",
    "PRESETS",
    "config_for",
    "CLASS_NAMES",
    "SPLITS",
    "BIASED_SPLITS",
    "CAMERAS",
    "OWN_BACKGROUNDS",
    "NEUTRAL_BACKGROUNDS",
    "background_names",
    "render_video",
    "render_video_with_masks",
    "actor_masks",
    "generate",
    "load_manifest",
    "load_metadata",
    "load_masks",
    "config_hash",
    "video_path",
    "write_video",
    "resolve_codec",
    "add_cli",
    "SYNTH_VERSION",
]
