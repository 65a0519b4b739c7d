"""Writes tests/data/experiment_configs.json. Runs only on the code of commit 974e566 (the API it calls was
refactored after it): `git worktree add /tmp/old 974e566 && cd /tmp/old && PYTHONPATH=$PWD python
tests/data/make_experiment_configs.py > out.json`, then the digest step at the end of this file.

Not collected by pytest (no test_ prefix)."""
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ["TBE_PROJECT_ROOT"] = "/project"
from tbe_lib import compare as C
from tbe_lib.book.registry import PROFILES, STAGES
from tbe_lib.book.experiment import experiment_config, EXPERIMENT_KEYS, OPTIONAL_KEYS
from tbe_lib.retrieve import RetrievalConfig
from tbe_lib.train.rundir import to_jsonable


def retrieval_config(cfg, camera, seed, row):  # as run_comparison builds it at 974e566
    out = Path(cfg.out_dir)
    first = (next(iter(cfg.conditions)), cfg.conditions[next(iter(cfg.conditions))][0])
    base = out / camera / f"seed{seed}"
    rdir = base / f"retrieval_{row}"
    if row in C.SSL_ROWS:
        ckpt = str(C.encoder_path(cfg, camera, seed, row))
    elif row == "random":
        ckpt = None
    else:
        ckpt = str(Path(C.finetune_config(cfg, camera, seed, row).run_dir) / "model.pt")
    return RetrievalConfig(out_dir=str(rdir), checkpoint=ckpt, backbone=cfg.backbone,
                           backbone_kwargs=dict(cfg.backbone_kwargs), data=str(C.synth_dir(cfg, camera)),
                           root=cfg.roots.get(camera), gallery_split=cfg.train_split,
                           query_splits=tuple(cfg.test_splits), background_split=cfg.background_split,
                           frames=cfg.frames, stride=cfg.stride, size=cfg.size, num_clips=cfg.test_clips,
                           workers=cfg.workers, device=cfg.device, seed=seed,
                           embedding="tsne" if (camera, seed) == first else None)


def units(cfg):
    out = {}
    for camera, seeds in cfg.conditions.items():
        for seed in seeds:
            for row in cfg.rows:
                key = f"{camera}/seed{seed}/{row}"
                u = {}
                if row in C.SSL_ROWS:
                    u["pretrain"] = to_jsonable(C.pretrain_config(cfg, camera, seed, row))
                if not (row == "sup_biased" and "random" in cfg.rows):
                    u["finetune"] = to_jsonable(C.finetune_config(cfg, camera, seed, row))
                u["retrieval"] = to_jsonable(retrieval_config(cfg, camera, seed, row))
                out[key] = u
    return out


def cam(cfg, cam_videos):
    return {"cam_split": cfg.cam_split, "cam_videos": cam_videos, "synthetic": cfg.synthetic,
            "ft": [cfg.ft_frames, cfg.ft_stride, cfg.ft_size], "resize": cfg.resize}


res = {"_generated": "with the code of commit 974e566 (tbe_lib.compare, tbe_lib.book.experiment), "
                     "project root /project; tests/test_experiment.py compares the refactored code with it",
       "profiles": {}, "cli": {}}
s6 = next(s for s in STAGES if s.name == "06_activation_maps")
for name, prof in PROFILES.items():
    kw = {k: prof.common[k] for k in EXPERIMENT_KEYS}
    kw.update({k: prof.common.get(k, v) for k, v in OPTIONAL_KEYS.items()})
    cfg = experiment_config(**kw)
    # chapter 2's motion check (notebook 02, cell 13), data_dir as chapter 2 sees it
    s2 = next(s for s in STAGES if s.name == "02_data")
    p2 = {**prof.common, **s2.params.get(name, {})}
    root = Path("/project") / p2["data_dir"]
    from tbe_lib.data.synth import config_for
    sc = config_for(p2["synth_size"], camera="static", seed=p2["seed"])
    batch = min(32, int(sc.counts()["train_unbiased"]))
    recipe = C.CompareConfig(data_dirs={"static": str(root)}, conditions={"static": (p2["seed"],)}, frames=sc.frames,
                             size=sc.height, finetune_epochs=p2["motion_check_epochs"], finetune_batch=batch, test_clips=1,
                             test_splits=("test_same", "test_shift"), workers=p2["workers"], device=p2["device"])
    fc = C.finetune_config(recipe, "static", p2["seed"], "sup_unbiased")
    fc.run_dir = str(Path("/project") / p2["run_dir"] / "motion_check")
    res["profiles"][name] = {"units": units(cfg), "cam": cam(cfg, s6.params[name]["cam_videos"]),
                             "motion_check": to_jsonable(fc), "data_dirs": dict(cfg.data_dirs),
                             "out_dir": cfg.out_dir, "synth_size": cfg.synth_size}


class Captured(Exception):
    pass


def capture(argv):
    from tbe_lib.cli import build_parser
    got = {}

    def fake(cfg, *a, **k):
        got["cfg"] = cfg
        raise Captured

    C.run_comparison = fake
    args = build_parser(only="compare").parse_args(argv)
    try:
        args.func(args)
    except Captured:
        pass
    return got["cfg"]


readme_lists = ["compare", "--lists", "ucf101=data_lists/ucf101/ucf101_video_{split}_split1.txt", "--pretrain-split",
                "train", "--train-split", "train", "--test-splits", "test", "--backbone", "i3d", "--frames", "16",
                "--stride", "4", "--size", "224", "--resize", "256", "--finetune-frames", "64", "--finetune-stride", "1",
                "--finetune-optimizer", "sgd", "--finetune-lr", "0.001", "--finetune-weight-decay", "1e-8",
                "--finetune-dropout", "0.5", "--finetune-warmup-epochs", "0", "--device", "cuda"]
for key, argv in {"default": ["compare", "--out", "runs/compare"], "readme_lists": readme_lists,
                  "pretrain_from": ["compare", "--lists", "a=x/a_{split}.txt", "b=x/b_{split}.txt", "--pretrain-from",
                                    "b=a", "--roots", "a=/videos/a", "--seeds", "0", "1", "--test-splits", "test",
                                    "--pretrain-split", "train", "--synth-size", "smoke", "--size", "48"],
                  "synth": ["compare", "--synth-size", "smoke", "--size", "24", "--static-seeds", "3",
                            "--jitter-seeds", "--pan-seeds", "1", "--rows", "random", "be", "--data-dir", "d"]}.items():
    cfg = capture(argv)
    res["cli"][key] = {"units": units(cfg), "cam": cam(cfg, cfg.cam_videos)}


def _canon(x):
    return json.dumps(x, sort_keys=True, separators=(",", ":"))


def _sha(x):
    return hashlib.sha256(_canon(x).encode()).hexdigest()[:16]


out = {"_generated": res["_generated"] + ". Per case: every unit's config as the SHA-256 (16 hex) of its canonical "
       "JSON (sorted keys, no spaces), and the full JSON of the first unit of each kind, for readable differences.",
       "cases": {}}
for group, prefix in (("profiles", "profile"), ("cli", "cli")):
    for name, v in res[group].items():
        digests, examples = {}, {}
        for unit, kinds in sorted(v["units"].items()):
            for kind, js in sorted(kinds.items()):
                digests[f"{unit}/{kind}"] = _sha(js)
                examples.setdefault(kind, {"unit": unit, "config": js})
        case = {"digests": digests, "examples": examples, "cam": v["cam"]}
        if "motion_check" in v:
            case["motion_check"] = v["motion_check"]
        out["cases"][f"{prefix}:{name}"] = case
sys.stdout.write(json.dumps(out, indent=1, sort_keys=True) + "\n")
