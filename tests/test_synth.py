"""The embedded background-trap benchmark: determinism, files on disk, the trap, fairness, errors."""

import argparse
import json

import av
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tbe_lib.data.listfile import read_list
from tbe_lib.data.synth import (
    CLASS_NAMES,
    NEUTRAL_BACKGROUNDS,
    OWN_BACKGROUNDS,
    SPLITS,
    SynthConfig,
    actor_masks,
    add_cli,
    background_names,
    config_for,
    config_hash,
    generate,
    load_manifest,
    load_masks,
    load_metadata,
    render_video,
    write_video,
)

K = len(CLASS_NAMES)
CHANCE = 1 / K


def decode(path):
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "smoke"
    return generate(out, config_for("smoke"), workers=2, progress=False)


# ----------------------------------------------------------------------------- determinism
def test_render_deterministic_and_seeded():
    cfg = config_for("smoke")
    a, meta_a = render_video(cfg, "train", 3)
    b, meta_b = render_video(cfg, "train", 3)
    assert a.dtype == np.uint8 and a.shape == (cfg.frames, cfg.height, cfg.width, 3)
    assert np.array_equal(a, b) and meta_a == meta_b
    c, _ = render_video(config_for("smoke", seed=1), "train", 3)
    assert not np.array_equal(a, c)
    d, _ = render_video(cfg, "test_shift", 3)  # same index, other split: another video
    assert not np.array_equal(a, d)
    # Frames move: not a still image.
    assert np.abs(a[0].astype(int) - a[-1]).max() > 50


@pytest.mark.parametrize("camera", ["jitter", "pan"])
def test_camera_moves_background(camera):
    cfg = config_for("smoke", camera=camera)
    static, _ = render_video(config_for("smoke"), "train", 5)
    moving, meta = render_video(cfg, "train", 5)
    assert meta["camera"] == camera and not np.array_equal(static, moving)
    # Away from the actor, a static camera gives constant pixels; a moving one does not.
    far = ~_dilate(actor_masks(cfg, "train", 5).any(0), 3)
    assert (static[0, far] == static[-1, far]).all()
    assert np.abs(moving[0, far].astype(int) - moving[-1, far]).mean() > 2.0


def _dilate(m, r):
    out = m.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(m, dy, 0), dx, 1)
    return out


def test_masks_cover_the_actor():
    cfg = config_for("smoke")
    for i in range(K):
        frames, meta = render_video(cfg, "train", i)
        mask = actor_masks(cfg, "train", i)  # (T, H, W)
        assert mask.shape == frames.shape[:3] and mask.any(axis=(1, 2)).all()
        far = ~_dilate(mask.any(0), 3)  # never near the actor
        assert far.mean() > 0.2
        assert (frames[:, far] == frames[:1, far]).all()  # static camera: constant there
        boxes = np.array(meta["bboxes"])
        ys, xs = np.nonzero(mask[0])
        assert boxes[0].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]


# -------------------------------------------------------------------------- files on disk
def test_generate_writes_everything(smoke_dir):
    cfg = config_for("smoke")
    manifest = load_manifest(smoke_dir)
    assert manifest["complete"] and manifest["hash"] == config_hash(cfg)
    assert manifest["counts"] == cfg.counts() and manifest["classes"] == list(CLASS_NAMES)
    assert manifest["own_background"] == dict(zip(CLASS_NAMES, OWN_BACKGROUNDS))
    df = load_metadata(smoke_dir)
    assert len(df) == sum(cfg.counts().values())
    for split in SPLITS:
        vl = read_list(smoke_dir / "lists" / f"{split}.txt")
        assert vl.format == "video" and vl.num_classes == K and vl.meta["split"] == split
        assert vl.meta["dataset"] == "synth" and vl.meta["camera"] == "static"
        sub = df[df.split == split].sort_values("index")
        assert [r.path for r in vl.records] == sub.path.tolist()
        assert [r.label for r in vl.records] == sub.label.tolist()
        assert np.bincount(sub.label, minlength=K).tolist() == [cfg.count(split) // K] * K
        masks = load_masks(smoke_dir, split)
        assert masks.shape == (cfg.count(split), cfg.frames, cfg.height, cfg.width)
        i = 5
        assert np.array_equal(masks[i], actor_masks(cfg, split, i))
        video = vl.resolve(vl.records[i])
        assert video.is_file()
        decoded = decode(video)
        assert decoded.shape == (cfg.frames, cfg.height, cfg.width, 3)
        rendered, meta = render_video(cfg, split, i)
        assert meta["bboxes"] == sub.bboxes.iloc[i]
        # High-quality encoding: close to the rendered frames (yuv420p chroma costs ~1 dB).
        psnr = 10 * np.log10(255**2 / np.mean((decoded.astype(float) - rendered) ** 2))
        assert psnr > 25, psnr


def test_generate_is_worker_independent_and_skips(smoke_dir, tmp_path):
    cfg = config_for("smoke")
    serial = generate(tmp_path / "serial", cfg, workers=1, progress=False)
    assert (serial / "metadata.csv").read_text() == (smoke_dir / "metadata.csv").read_text()
    for split in SPLITS:
        assert np.array_equal(np.load(serial / "masks" / f"{split}.npy"), np.load(smoke_dir / "masks" / f"{split}.npy"))
    a, b = decode(serial / "videos/train/00007.mp4"), decode(smoke_dir / "videos/train/00007.mp4")
    assert np.abs(a.astype(int) - b).max() <= 8
    # Same config: skipped (files untouched). Other config: regenerated in place.
    stamp = (serial / "videos/train/00000.mp4").stat().st_mtime_ns
    generate(serial, cfg, workers=1, progress=False)
    assert (serial / "videos/train/00000.mp4").stat().st_mtime_ns == stamp
    other = config_for("smoke", seed=1, n_pretrain=8)
    generate(serial, other, workers=1, progress=False)
    assert load_manifest(serial)["hash"] == config_hash(other)
    assert len(read_list(serial / "lists/pretrain.txt")) == 8
    assert not (serial / "videos/pretrain/00008.mp4").exists()


def test_generate_refuses_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="manifest"):
        generate(tmp_path, config_for("smoke"), workers=1, progress=False)
    (tmp_path / "manifest.json").write_text('{"dataset": "ucf101"}')
    with pytest.raises(FileExistsError, match="not a synth"):
        generate(tmp_path, config_for("smoke"), workers=1, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli(tmp_path):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers())
    args = parser.parse_args(
        [
            "synth",
            "--out",
            str(tmp_path / "s"),
            "--size",
            "smoke",
            "--seed",
            "2",
            "--camera",
            "pan",
            "--bias",
            "0.75",
            "--centre-band",
            "0.2",
            "0.8",
            "--speed",
            "0.01",
            "0.02",
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    cfg = json.loads((tmp_path / "s/manifest.json").read_text())["config"]
    assert (cfg["seed"], cfg["camera"], cfg["bias"], cfg["n_train"]) == (2, "pan", 0.75, 16)
    assert cfg["centre_band"] == [0.2, 0.8] and cfg["speed"] == [0.01, 0.02]


def test_write_video_roundtrip(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (5, 16, 24, 3), dtype=np.uint8)
    frames[:] = frames[:, :1, :1]  # flat colours compress well
    out = decode(write_video(tmp_path / "v.mp4", frames, fps=5, gop=2))
    assert out.shape == frames.shape and np.abs(out.astype(int) - frames).mean() < 6
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", frames[:, :15], fps=5)


# ------------------------------------------------------------------------------- the trap
@pytest.fixture(scope="module")
def trap():
    """Rendered (not encoded) videos of four splits of a mid-sized config."""
    cfg = config_for("smoke", n_pretrain=0, n_train=480, n_train_unbiased=480, n_test_same=240, n_test_shift=240)
    data = {}
    for split in ("train", "train_unbiased", "test_same", "test_shift"):
        videos = [render_video(cfg, split, i) for i in range(cfg.count(split))]
        data[split] = (np.stack([v[0] for v in videos]), [v[1] for v in videos])
    return cfg, data


def one_frame(frames, seed=0):
    """A random frame per video, 4x4 average-pooled: (N, 8*8*3) in [0, 1]."""
    n, T, H, W, _ = frames.shape
    t = np.random.default_rng(seed).integers(T, size=n)
    f = frames[np.arange(n), t].astype(np.float32) / 255
    return f.reshape(n, H // 4, 4, W // 4, 4, 3).mean((2, 4)).reshape(n, -1)


def affine_flow(frames):
    """Motion features from pairs of consecutive frames: a least-squares affine optical
    flow (brightness constancy) over the whole view -> translation, divergence, curl."""
    g = frames.astype(np.float32).mean(-1) / 255  # (N, T, H, W)
    it = g[:, 1:] - g[:, :-1]
    gy, gx = np.gradient((g[:, 1:] + g[:, :-1]) / 2, axis=(2, 3))
    H, W = g.shape[2:]
    yy, xx = np.meshgrid(np.arange(H) - H / 2, np.arange(W) - W / 2, indexing="ij")
    A = np.stack([gx, gx * xx, gx * yy, gy, gy * xx, gy * yy], -1).reshape(len(g), -1, 6)
    b = -it.reshape(len(g), -1)
    p = np.linalg.solve(A.transpose(0, 2, 1) @ A + 1e-3 * np.eye(6), (A.transpose(0, 2, 1) @ b[..., None]))[..., 0]
    return np.stack([p[:, 0], p[:, 3], p[:, 1] + p[:, 5], p[:, 4] - p[:, 2]], 1)


def fit_score(feature, data, train, tests):
    X, y = feature(data[train][0]), [m["label"] for m in data[train][1]]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)).fit(X, y)
    return {s: clf.score(feature(data[s][0]), [m["label"] for m in data[s][1]]) for s in tests}


def test_trap_single_frame_learns_background(trap):
    _, data = trap
    acc = fit_score(one_frame, data, "train", ["test_same", "test_shift"])
    print("single frame, trained on train:", acc)
    assert acc["test_same"] > 0.6  # the background predicts the class...
    assert acc["test_shift"] < 2 * CHANCE  # ...and nothing else in one frame does


def test_single_frame_has_no_class_information(trap):
    _, data = trap
    acc = fit_score(one_frame, data, "train_unbiased", ["test_shift"])
    print("single frame, trained on train_unbiased:", acc)
    assert acc["test_shift"] < 2 * CHANCE

    # The actor's own layout (position, size, shape) in one frame: also near chance.
    cfg = trap[0]

    def mask_feature(split):
        rng = np.random.default_rng(1)
        m = np.stack([actor_masks(cfg, split, i)[rng.integers(cfg.frames)] for i in range(cfg.count(split))])
        return m.reshape(len(m), 8, 4, 8, 4).mean((2, 4)).reshape(len(m), -1)

    y = {s: [m["label"] for m in data[s][1]] for s in ("train_unbiased", "test_shift")}
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    clf.fit(mask_feature("train_unbiased"), y["train_unbiased"])
    acc_mask = clf.score(mask_feature("test_shift"), y["test_shift"])
    print("actor mask of one frame:", acc_mask)
    assert acc_mask < 2 * CHANCE


def test_motion_is_learnable(trap):
    _, data = trap
    acc = fit_score(affine_flow, data, "train_unbiased", ["test_shift", "test_same"])
    print("affine flow, trained on train_unbiased:", acc)
    assert min(acc.values()) > 0.6
    acc = fit_score(affine_flow, data, "train", ["test_shift"])  # motion ignores the background
    print("affine flow, trained on train:", acc)
    assert acc["test_shift"] > 0.5


def test_background_rule(trap):
    cfg, data = trap
    own_ids = {c: background_names().index(b) for c, b in enumerate(OWN_BACKGROUNDS)}
    neutral = set(NEUTRAL_BACKGROUNDS)
    for split in ("train", "test_same"):
        metas = data[split][1]
        own = np.array([m["background_id"] == own_ids[m["label"]] for m in metas])
        assert abs(own.mean() - cfg.bias) < 0.02
        assert all(m["background_name"] in neutral for m, o in zip(metas, own) if not o)
    shift = data["test_shift"][1]
    assert all(m["background_name"] in neutral for m in shift)
    assert all(m["background_id"] != own_ids[m["label"]] for m in shift)
    # Unbiased splits: every class sees many backgrounds; own rate ~ 1/14.
    unb = data["train_unbiased"][1]
    assert np.mean([m["own_background"] for m in unb]) < 0.2
    assert len({m["background_name"] for m in unb}) == len(background_names())


def test_bias_extremes():
    cfg = config_for("smoke", bias=1.0)
    assert all(render_video(cfg, "train", i)[1]["own_background"] for i in range(16))
    cfg = config_for("smoke", bias=0.0)
    assert not any(render_video(cfg, "train", i)[1]["own_background"] for i in range(16))


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(height=33), "even"),
        (dict(width=30, height=14), "even integer >= 16"),
        (dict(frames=1), "at least 2"),
        (dict(bias=1.5), "bias"),
        (dict(bias=-0.1), "bias"),
        (dict(camera="shaky"), "camera"),
        (dict(codec="h265"), "codec"),
        (dict(n_train=-1), "n_train"),
    ],
)
def test_bad_config(overrides, match):
    with pytest.raises(ValueError, match=match):
        config_for("smoke", **overrides)


def test_bad_names():
    with pytest.raises(ValueError, match="size"):
        config_for("huge")
    with pytest.raises(ValueError, match="unknown SynthConfig fields"):
        config_for("smoke", colour="red")
    with pytest.raises(ValueError, match="split"):
        render_video(config_for("smoke"), "val", 0)
    with pytest.raises(ValueError, match="out of range"):
        render_video(config_for("smoke"), "train", 16)
    assert SynthConfig.from_dict(config_for("smoke").to_dict()) == config_for("smoke")
