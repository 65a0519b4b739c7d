"""Rendering of one benchmark video: a scikit-learn digit moving over a scikit-image photo.

Pure functions of ``(config, split, index)``: no disk writes, no global random state.

Scene model (all lengths in units of ``L = min(height, width)`` pixels; ``tt = t - (T-1)/2``
is the frame's offset from the middle frame, ``T = frames``):

* **Actor.** One of the 1797 8x8 digits of ``sklearn.datasets.load_digits`` (chosen at
  random; its identity is *not* the label), drawn as a square of side ``S(t)`` with a soft
  alpha (the digit's intensity), a random bright colour and a dark outline (a dilated copy
  of the glyph darkening the background), so it stays visible on any photograph.
* **The band is a torus.** The actor's position is taken modulo the band ``cfg.centre_band``
  of each axis: a translating actor that leaves the band on the right comes back into it on
  the left (a jump of the band's width), so it never leaves the band, whatever the video's
  length. It is drawn modulo the frame (an actor near the edge shows on both sides).
* **Motion classes** (``CLASS_NAMES``), with per-video random speeds
  ``v ~ U[cfg.speed] L``/frame (default ``U[0.01125, 0.0225]``), ``w ~ U[8, 16]`` degrees/frame, a total log-size change
  ``Z ~ U[0.45, 0.75]`` over the video (``k = Z / (T-1)`` per frame), a centre ``c``
  (the position at the middle frame) uniform on the band ``cfg.centre_band`` of each axis
  (default ``[0.3, 0.7]``), mid-frame angle ``a0 ~ U[0, 360)``, mid-frame size
  ``S0 ~ logU[0.26, 0.40] L``:

  ========================== ================= ============== ================
  class                      centre p(t)       angle          log size
  ========================== ================= ============== ================
  translate left/right/up/dn c + tt v d (band) a0             log S0 + o k
  rotate cw / ccw            c                 a0 +/- w tt    log S0 + o k
  approach / recede          c                 a0             log S0 +/- k tt
  ========================== ================= ============== ================

  where ``o = u - (T-1)/2`` with ``u`` uniform on the frame indices ``{0..T-1}`` and a
  random sign, and "(band)" the wrap into the band. At the middle frame position, angle and
  size have the same distribution for every class; at a uniformly random frame, angle and
  size too; position, uniform on the band, at *every* frame. At a fixed frame far from the
  middle, size differs a little (an approaching actor is smaller in the first frame). The
  single-frame signal is measured per frame index in chapter 2
  (:func:`tbe_lib.book.helpers.frame_leak`): within chance + 5 points at every index.

  *Why a band, a torus of it, and this speed* (``bench/bench_motion_check.py``;
  ``bench/RESULTS.md``, "benchmark v3" to "v5"): v2 drew the centre uniformly on the whole
  frame's torus, which balanced position at every frame, but the book's CPU backbone
  (``r3d_tiny``, whose last stage sees a 1x1 map at 32x32) could not learn the motion wherever
  it happened: the supervised motion check reached 13 % (chance 12.5 %). v3 kept the centre in
  ``[0.3, 0.7]`` (86 %; in ``[0.4, 0.6]``, v1's, 86 %; in ``[0.25, 0.75]`` 56 %) but let the
  actor drift out of the band, so the video's first frame told the class at 25.8 %. v4 wrapped
  the actor into the band (no frame index beyond 15.0 %) at v3's speed, ``U[0.015, 0.03] L``:
  a translating actor then jumped across the band in about 4 of 5 of the ``cpu`` book's clips
  (8 frames at stride 2) and the positive control's motion probe fell from 39.8 % to 22.7 %,
  no longer clearly above random init. v5 (this one) moves at three quarters of that speed: a
  jump in about 3 of 5 clips, the control clearly above random init again (on the book's seeds
  and on three others), and 64.5 % on the motion check (at half the speed the control was
  clearer still, but the motion check fell to 24.8 %: ``bench/RESULTS.md``, "benchmark v5").
* **Background.** A random crop (side ``U[0.35, 0.9]`` of the photo's short side, random
  position) of one photograph, resized (anti-aliased) to the frame plus a camera margin.
* **Camera.** ``static``: no motion. ``jitter``: an independent offset per frame,
  ``N(0, 0.03 L)`` clipped to ``+/-0.08 L`` per axis (hand-held). ``pan``: a constant
  velocity ``U[0.008, 0.016] L``/frame in a random direction, centred on the middle frame.
  The camera moves the whole view: the actor's image position is its scene position minus
  the camera offset.
* **Backgrounds per split** (the trap): 8 "own" photographs (``OWN_BACKGROUNDS[c]`` for
  class ``c``) and 6 "neutral" ones (``NEUTRAL_BACKGROUNDS``), never any class's own.
  In ``pretrain``, ``train`` and ``test_same``, exactly ``round(bias * n_c)`` of the ``n_c``
  videos of class ``c`` (which ones: a seeded permutation per split and class) use the
  class's own photograph; the others use a neutral photograph drawn uniformly.
  ``train_unbiased`` draws uniformly from all 14 photographs, ``test_shift`` uniformly
  from the 6 neutral ones: in both the background is independent of the class.
"""

from __future__ import annotations

import colorsys
import functools
import math
import os
from typing import Any

import numpy as np

from .config import BIASED_SPLITS, CLASS_NAMES, SPLITS, SynthConfig

__all__ = [
    "OWN_BACKGROUNDS",
    "NEUTRAL_BACKGROUNDS",
    "background_names",
    "render_video",
    "render_video_with_masks",
    "actor_masks",
    "video_seed",
    "load_photo",
    "photo_side",
]

# name -> file under skimage's bundled data folder (shipped in the wheel; read directly,
# never through skimage.data's pooch fetcher, so nothing can touch the network).
_PHOTO_FILES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "camera": "camera.png",
    "brick": "brick.png",
    "immunohistochemistry": "ihc.png",
    "motorcycle": "motorcycle_left.png",
    "colorwheel": "color.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "coins": "coins.png",
}
#: ``OWN_BACKGROUNDS[c]``: the photograph that class ``c`` is biased towards.
OWN_BACKGROUNDS: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "retina",
    "camera",
    "brick",
)
#: Photographs never used as any class's own: the "other" backgrounds of biased splits
#: and the only backgrounds of ``test_shift``.
NEUTRAL_BACKGROUNDS: tuple[str, ...] = ("immunohistochemistry", "motorcycle", "colorwheel", "grass", "gravel", "coins")
assert len(OWN_BACKGROUNDS) == len(CLASS_NAMES)

# Scene constants (documented in the module docstring).
_SPIN = (8.0, 16.0)  # degrees per frame
_ZOOM = (0.45, 0.75)  # log-size change over the whole video
_SIZE = (0.26, 0.40)  # actor side at the middle frame, L (log-uniform)
_CROP = (0.35, 0.9)  # background crop side, fraction of the photo's short side
_JITTER_STD, _JITTER_MAX = 0.03, 0.08
_PAN = (0.008, 0.016)
_OUTLINE = 0.7  # how much the outline darkens the background
_MASK_THRESHOLD = 0.5  # actor mask: outlined alpha >= this


def background_names() -> tuple[str, ...]:
    """All background photographs; a video's ``background_id`` indexes this tuple
    (own backgrounds first, in class order, then the neutral ones)."""
    return OWN_BACKGROUNDS + NEUTRAL_BACKGROUNDS


def _skimage_data_dir() -> str:
    import skimage

    return os.path.join(os.path.dirname(skimage.__file__), "data")


@functools.lru_cache(maxsize=None)
def load_photo(name: str, short_side: int) -> np.ndarray:
    """Photograph ``name`` as float32 RGB in [0, 1], shape (h, w, 3), resized (anti-aliased)
    so that its short side is at most ``short_side`` pixels. Cached per process."""
    from skimage.io import imread
    from skimage.transform import resize

    if name not in _PHOTO_FILES:
        raise ValueError(f"unknown background {name!r}, expected one of {background_names()}")
    path = os.path.join(_skimage_data_dir(), _PHOTO_FILES[name])
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"background photograph {name!r} not found at {path}: this scikit-image install does not "
            "ship it in its wheel; reinstall scikit-image from the lock file"
        )
    img = imread(path)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    img = img[..., :3].astype(np.float32) / 255.0
    h, w = img.shape[:2]
    f = short_side / min(h, w)
    if f < 1.0:
        img = resize(img, (round(h * f), round(w * f)), anti_aliasing=True, preserve_range=True)
    return np.ascontiguousarray(img, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(glyphs (N, 12, 12) alpha in [0,1] with a 2-pixel zero border, outlines (N, 12, 12)
    = glyphs dilated by one digit pixel (the outer ring stays zero), targets (N,))."""
    from scipy.ndimage import grey_dilation
    from sklearn.datasets import load_digits

    d = load_digits()
    glyph = np.clip(d.images.astype(np.float32) / 12.0, 0.0, 1.0)  # (N, 8, 8); 12/16 is opaque
    glyph = np.pad(glyph, ((0, 0), (2, 2), (2, 2)))  # zero border for sampling
    outline = grey_dilation(glyph, size=(1, 3, 3))
    return glyph, outline, d.target.astype(np.int64)


def video_seed(cfg: SynthConfig, split: str, index: int) -> np.random.SeedSequence:
    """The seed of one video: a function of ``(cfg.seed, split, index)`` only, so parallel
    and serial generation give the same videos."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}, expected one of {SPLITS}")
    return np.random.SeedSequence([cfg.seed, SPLITS.index(split), index])


def _bilinear(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sample ``img`` (h, w) or (h, w, C) at float coordinates ``y``, ``x`` (any equal
    shapes), clamping to the edge. Returns shape ``y.shape`` (+ (C,))."""
    h, w = img.shape[:2]
    y = np.clip(y, 0.0, h - 1.0)
    x = np.clip(x, 0.0, w - 1.0)
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 2)
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 2)
    fy, fx = (y - y0).astype(np.float32), (x - x0).astype(np.float32)
    if img.ndim == 3:
        fy, fx = fy[..., None], fx[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bot = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _own_background(cfg: SynthConfig, split: str, index: int, label: int) -> bool:
    """Whether video ``index`` of a biased split shows its class's own photograph: exactly
    ``round(bias * n_c)`` of the class's ``n_c`` videos do, chosen by a seeded permutation."""
    k = cfg.num_classes
    n = cfg.count(split)
    n_c = (n - label + k - 1) // k
    rank = index // k
    perm = np.random.default_rng([cfg.seed, SPLITS.index(split), 7919, label]).permutation(n_c)
    return bool(perm[rank] < round(cfg.bias * n_c))


def _margin(cfg: SynthConfig) -> int:
    """Camera margin around the view, px: the largest jitter or pan offset, plus 2."""
    return math.ceil(max(_JITTER_MAX, _PAN[1] * (cfg.frames - 1) / 2) * min(cfg.height, cfg.width)) + 2


def photo_side(cfg: SynthConfig) -> int:
    """Short side the photographs are pre-resized to: 3x the canvas, so that the smallest
    crop (0.35 of the short side) still has at least the canvas's resolution."""
    return 3 * (max(cfg.height, cfg.width) + 2 * _margin(cfg))


def _scene(cfg: SynthConfig, split: str, index: int) -> dict[str, Any]:
    """Draw every random quantity of one video (same draws in the same order for all
    classes) and return the per-frame actor/camera tracks plus metadata."""
    n = cfg.count(split)
    if not 0 <= index < n:
        raise ValueError(f"video index {index} out of range for split {split!r} with {n} videos")
    rng = np.random.default_rng(video_seed(cfg, split, index))
    T, H, W = cfg.frames, cfg.height, cfg.width
    L = float(min(H, W))
    label = index % cfg.num_classes
    name = CLASS_NAMES[label]
    tt = np.arange(T, dtype=np.float64) - (T - 1) / 2  # (T,)

    # Background choice.
    n_own = len(OWN_BACKGROUNDS)
    neutral = int(rng.integers(len(NEUTRAL_BACKGROUNDS)))
    any_bg = int(rng.integers(len(background_names())))
    if split in BIASED_SPLITS:
        own = _own_background(cfg, split, index, label)
        bg_id = label if own else n_own + neutral
    elif split == "train_unbiased":
        bg_id = any_bg
    else:  # test_shift
        bg_id = n_own + neutral
    crop_frac = rng.uniform(*_CROP)
    crop_pos = rng.uniform(size=2)  # (y, x) in [0, 1)

    # Actor appearance.
    digit_index = int(rng.integers(len(_digits()[0])))
    hue, sat, val = rng.uniform(), rng.uniform(0.6, 1.0), rng.uniform(0.85, 1.0)
    colour = np.array(colorsys.hsv_to_rgb(hue, sat, val), dtype=np.float32)

    # Motion parameters (all classes draw the same quantities).
    lo, hi = cfg.centre_band  # the actor's place at the middle frame, a fraction of each axis
    centre = (lo + (hi - lo) * rng.uniform(size=2)) * np.array([W, H])  # (x, y) px
    speed = rng.uniform(*cfg.speed) * L
    spin = math.radians(rng.uniform(*_SPIN))
    zoom = rng.uniform(*_ZOOM) / (T - 1)
    angle0 = rng.uniform(0.0, 2 * math.pi)
    size0 = math.exp(rng.uniform(math.log(_SIZE[0]), math.log(_SIZE[1]))) * L
    o = (rng.integers(T) - (T - 1) / 2) * rng.choice([-1.0, 1.0])

    pos = np.broadcast_to(centre, (T, 2)).copy()  # (T, 2) scene (x, y) px, before wrapping
    angle = np.full(T, angle0)
    log_size = np.full(T, math.log(size0) + o * zoom)
    if name.startswith("translate"):
        d = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[name.split("_")[1]]
        pos += tt[:, None] * speed * np.array(d, dtype=np.float64)
        # The band is a torus of its own (v4, v5): leaving it on one side is entering it on the other,
        # so the position is uniform on the band at every frame, for every class.
        start, width = lo * np.array([W, H]), (hi - lo) * np.array([W, H])
        pos = np.where(width > 0, start + np.mod(pos - start, np.where(width > 0, width, 1.0)), pos)
    elif name.startswith("rotate"):
        angle = angle0 + (1 if name == "rotate_cw" else -1) * spin * tt
    else:
        log_size = np.full(T, math.log(size0)) + (1 if name == "approach" else -1) * zoom * tt

    # Camera (scene -> image offset), margin so the background always covers the view.
    if cfg.camera == "jitter":
        cam = np.clip(rng.normal(0.0, _JITTER_STD * L, size=(T, 2)), -_JITTER_MAX * L, _JITTER_MAX * L)
        cam_speed, cam_dir = 0.0, 0.0
    elif cfg.camera == "pan":
        cam_speed, cam_dir = rng.uniform(*_PAN) * L, rng.uniform(0.0, 2 * math.pi)
        cam = tt[:, None] * cam_speed * np.array([math.cos(cam_dir), math.sin(cam_dir)])
    else:
        cam = np.zeros((T, 2))
        cam_speed, cam_dir = 0.0, 0.0
    margin = _margin(cfg)

    return dict(
        label=label,
        class_name=name,
        bg_id=bg_id,
        crop_frac=crop_frac,
        crop_pos=crop_pos,
        digit_index=digit_index,
        colour=colour,
        centre=centre,
        speed=speed,
        spin=spin,
        zoom=zoom,
        angle0=angle0,
        size0=size0,
        pos=pos,
        angle=angle,
        size=np.exp(log_size),
        cam=cam,
        cam_speed=cam_speed,
        cam_dir=cam_dir,
        margin=margin,
    )


def _actor_alpha(cfg: SynthConfig, sc: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame glyph alpha and outline alpha, each (T, H, W) float32 in [0, 1]."""
    H, W = cfg.height, cfg.width
    glyph, outline, _ = _digits()
    p = sc["pos"] - sc["cam"]  # (T, 2) image (x, y) px
    ys, xs = np.meshgrid(np.arange(H, dtype=np.float64) + 0.5, np.arange(W, dtype=np.float64) + 0.5, indexing="ij")
    # Offsets to the actor's centre on the torus: the nearest copy of the actor, in [-W/2, W/2).
    dx = np.mod(xs[None] - p[:, 0, None, None] + W / 2, W) - W / 2  # (T, H, W)
    dy = np.mod(ys[None] - p[:, 1, None, None] + H / 2, H) - H / 2
    c = np.cos(sc["angle"])[:, None, None]
    s = np.sin(sc["angle"])[:, None, None]
    k = (8.0 / sc["size"])[:, None, None]  # digit pixels per image pixel
    # Inverse rotation (positive angle = clockwise on screen, y pointing down).
    u = (c * dx + s * dy) * k + 5.5  # digit x, in the padded 12x12 glyph
    v = (-s * dx + c * dy) * k + 5.5
    both = np.stack([glyph[sc["digit_index"]], outline[sc["digit_index"]]], -1)  # (12, 12, 2)
    ao = _bilinear(both, v, u)  # (T, H, W, 2)
    a = np.ascontiguousarray(ao[..., 0])
    return a, np.maximum(a, ao[..., 1])


def _render(cfg: SynthConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    from skimage.transform import resize

    sc = _scene(cfg, split, index)
    T, H, W = cfg.frames, cfg.height, cfg.width
    m = sc["margin"]
    Hc, Wc = H + 2 * m, W + 2 * m

    # Background canvas: a crop with the canvas's aspect ratio, anti-aliased resize.
    bg_name = background_names()[sc["bg_id"]]
    photo = load_photo(bg_name, photo_side(cfg))
    ph, pw = photo.shape[:2]
    ch = sc["crop_frac"] * min(ph, pw) * min(1.0, Hc / Wc)
    cw = ch * Wc / Hc
    y0 = int(sc["crop_pos"][0] * (ph - ch))
    x0 = int(sc["crop_pos"][1] * (pw - cw))
    crop = photo[y0 : y0 + max(int(ch), 2), x0 : x0 + max(int(cw), 2)]
    canvas = resize(crop, (Hc, Wc), anti_aliasing=True, preserve_range=True).astype(np.float32)

    # Background frames: the canvas seen through the moving camera (sub-pixel, bilinear).
    if cfg.camera == "static":
        frames = np.broadcast_to(canvas[m : m + H, m : m + W], (T, H, W, 3))
    else:
        ys, xs = np.meshgrid(np.arange(H, dtype=np.float64), np.arange(W, dtype=np.float64), indexing="ij")
        by = ys[None] + m + sc["cam"][:, 1, None, None]  # (T, H, W)
        bx = xs[None] + m + sc["cam"][:, 0, None, None]
        frames = _bilinear(canvas, by, bx)  # (T, H, W, 3)

    alpha, outline = _actor_alpha(cfg, sc)  # (T, H, W) each
    frames = frames * (1 - _OUTLINE * outline[..., None])
    frames = frames * (1 - alpha[..., None]) + sc["colour"] * alpha[..., None]
    frames = np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
    mask = outline >= _MASK_THRESHOLD  # (T, H, W) bool
    return frames, mask, sc


def _bboxes(mask: np.ndarray) -> list[list[int]]:
    """Per-frame ``[x0, y0, x1, y1]`` (inclusive pixel bounds) of a (T, H, W) mask;
    ``[-1, -1, -1, -1]`` for a frame where the actor is out of view."""
    rows, cols = mask.any(axis=2), mask.any(axis=1)  # (T, H), (T, W)
    H, W = mask.shape[1:]
    y0 = rows.argmax(1)
    y1 = H - 1 - rows[:, ::-1].argmax(1)
    x0 = cols.argmax(1)
    x1 = W - 1 - cols[:, ::-1].argmax(1)
    box = np.stack([x0, y0, x1, y1], 1)
    box[~rows.any(1)] = -1
    return box.tolist()


def _describe(cfg: SynthConfig, split: str, index: int, sc: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """The metadata row of a rendered video."""
    bg_name = background_names()[sc["bg_id"]]
    return {
        "split": split,
        "index": index,
        "label": sc["label"],
        "class_name": sc["class_name"],
        "background_id": sc["bg_id"],
        "background_name": bg_name,
        "own_background": bg_name == OWN_BACKGROUNDS[sc["label"]],
        "digit": int(_digits()[2][sc["digit_index"]]),
        "digit_index": sc["digit_index"],
        "colour": [round(float(c), 4) for c in sc["colour"]],
        "start_x": round(float(sc["pos"][0, 0] % cfg.width), 3),
        "start_y": round(float(sc["pos"][0, 1] % cfg.height), 3),
        "centre_x": round(float(sc["centre"][0]), 3),
        "centre_y": round(float(sc["centre"][1]), 3),
        "scale": round(float(sc["size0"]), 3),
        "speed": round(float(sc["speed"]), 4),
        "spin_deg": round(math.degrees(sc["spin"]), 3),
        "zoom": round(float(sc["zoom"]), 4),
        "angle0_deg": round(math.degrees(sc["angle0"]), 3),
        "camera": cfg.camera,
        "camera_speed": round(float(sc["cam_speed"]), 4),
        "camera_dir_deg": round(math.degrees(sc["cam_dir"]), 3),
        "bboxes": _bboxes(mask),
    }


def render_video_with_masks(cfg: SynthConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """:func:`render_video` plus the actor masks, bool (T, H, W), from one rendering."""
    frames, mask, sc = _render(cfg, split, index)
    return frames, mask, _describe(cfg, split, index, sc, mask)


def render_video(cfg: SynthConfig, split: str, index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Render video ``index`` of ``split``: frames uint8 (T, H, W, 3) RGB and its metadata
    (label, class, background, digit, motion parameters, per-frame actor boxes
    ``[x0, y0, x1, y1]``). Pure and deterministic: the same ``(cfg, split, index)`` gives
    byte-identical frames."""
    frames, _, meta = render_video_with_masks(cfg, split, index)
    return frames, meta


def actor_masks(cfg: SynthConfig, split: str, index: int) -> np.ndarray:
    """Ground-truth actor masks of one video, bool (T, H, W): the pixels the actor (glyph
    plus outline) covers with alpha >= 0.5. Recomputed deterministically (no disk)."""
    return _render(cfg, split, index)[1]
