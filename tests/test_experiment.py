"""The experiment's settings in one place, and pinned: every profile and ``tbe compare`` command
line resolves to the run configurations recorded in tests/data/experiment_configs.json (first
recorded before the issue-12 refactor, which changed none of them; re-recorded on purpose for
issue 13, whose benchmark v2 and rows changed the book's experiment: see the file's
``_generated``). A change to any run's configuration shows here; re-record it only on purpose,
with ``python tests/data/make_experiment_configs.py``. Also: flags and ``--set`` keys come from
CompareConfig's fields, and runs made before unit records existed are adopted once (or moved
aside when they differ)."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from tbe_lib.book.registry import STAGES
from tbe_lib.compare import add_cli, config_from_args
from tbe_lib.data.synth import config_for
from tbe_lib.experiment import (
    EXPERIMENT_PROFILES,
    SSL_ROWS,
    CompareConfig,
    bring_up_to_date,
    file_digest,
    finetune_config,
    pretrain_config,
    profile_config,
    retire_if_changed,
    retrieval_config,
    run_step,
    setting_doc,
    setting_names,
)
from tbe_lib.experiment.staleness import RECORD_NAME, Unit, differences, legacy_differences, read_record
from tbe_lib.train.rundir import to_jsonable

REPO = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((Path(__file__).parent / "data" / "experiment_configs.json").read_text())["cases"]


#: Fields added to the run configurations after the fixture was recorded, with the default they
#: must hold to leave a run as it was (a missing key counts as its default when runs are compared).
ADDED_SINCE_FIXTURE: dict[tuple[str | None, str], object] = {}
#: Evaluation-only fields added to the retrieval since the fixture: they add measures only.
RETRIEVAL_ADDED_SINCE_FIXTURE: tuple[str, ...] = ()


def _as_before(config) -> dict:
    d = to_jsonable(config)
    if "query_splits" in d:  # a RetrievalConfig
        d = {k: v for k, v in d.items() if k not in RETRIEVAL_ADDED_SINCE_FIXTURE}
    for (section, key), default in ADDED_SINCE_FIXTURE.items():
        where = d if section is None else d.get(section)
        if isinstance(where, dict) and key in where:
            assert where[key] == default, f"{section}.{key} = {where[key]!r}, not its default {default!r}"
            del where[key]
    return d


def _digest(config) -> str:
    canon = json.dumps(_as_before(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _unit_configs(cfg: CompareConfig) -> dict[str, object]:
    out = {}
    for condition, seeds in cfg.conditions.items():
        for seed in seeds:
            for row in cfg.rows:
                key = f"{condition}/seed{seed}/{row}"
                if row in SSL_ROWS:
                    out[f"{key}/pretrain"] = pretrain_config(cfg, condition, seed, row)
                if not (row == "sup_biased" and "random" in cfg.rows):
                    out[f"{key}/finetune"] = finetune_config(cfg, condition, seed, row)
                out[f"{key}/retrieval"] = retrieval_config(cfg, condition, seed, row)
    return out


def _cam(cfg: CompareConfig) -> dict:
    return {
        "cam_split": cfg.cam_split,
        "cam_videos": cfg.cam_videos,
        "synthetic": cfg.synthetic,
        "ft": [cfg.ft_frames, cfg.ft_stride, cfg.ft_size],
        "resize": cfg.resize,
    }


def _motion_check(cfg: CompareConfig, profile: str) -> object:
    """Chapter 2's motion check, as the notebook builds it."""
    from tbe_lib.book.experiment import benchmark_dir, motion_check_config

    synth = config_for(cfg.synth_size)
    epochs = next(s for s in STAGES if s.name == "02_data").params[profile]["motion_check_epochs"]
    batch = min(32, int(synth.counts()["train_unbiased"]))
    return motion_check_config(cfg, profile=profile, data=benchmark_dir(cfg), epochs=epochs, batch=batch)


def record(cfg: CompareConfig, profile: str | None = None) -> dict:
    """The fixture's case for ``cfg``: every unit's digest, the first unit of each kind in full,
    the activation maps' settings and (for a profile) chapter 2's motion check."""
    configs = _unit_configs(cfg)
    examples: dict[str, dict] = {}
    for key in sorted(configs):
        unit, kind = key.rsplit("/", 1)
        examples.setdefault(kind, {"unit": unit, "config": _as_before(configs[key])})
    case = {"digests": {k: _digest(c) for k, c in sorted(configs.items())}, "examples": examples, "cam": _cam(cfg)}
    if profile is not None:
        case["motion_check"] = _as_before(_motion_check(cfg, profile))
    return case


def _check(case: dict, cfg: CompareConfig) -> None:
    configs = _unit_configs(cfg)
    for kind, ex in case["examples"].items():  # a readable difference first
        assert _as_before(configs[f"{ex['unit']}/{kind}"]) == ex["config"], (ex["unit"], kind)
    assert {k: _digest(c) for k, c in configs.items()} == case["digests"]
    assert case["cam"] == _cam(cfg)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full", "paper"])
def test_every_profile_resolves_to_the_recorded_configs(profile, monkeypatch) -> None:
    from tbe_lib.book.experiment import experiment

    monkeypatch.setenv("TBE_PROJECT_ROOT", "/project")
    cfg = experiment(profile)
    _check(FIXTURE[f"profile:{profile}"], cfg)
    assert _as_before(_motion_check(cfg, profile)) == FIXTURE[f"profile:{profile}"]["motion_check"]


README_LISTS = [
    "--lists",
    "ucf101=data_lists/ucf101/ucf101_video_{split}_split1.txt",
    "--pretrain-split",
    "train",
    "--train-split",
    "train",
    "--test-splits",
    "test",
    "--backbone",
    "i3d",
    "--frames",
    "16",
    "--stride",
    "4",
    "--size",
    "224",
    "--resize",
    "256",
    "--finetune-frames",
    "64",
    "--finetune-stride",
    "1",
    "--finetune-optimizer",
    "sgd",
    "--finetune-lr",
    "0.001",
    "--finetune-weight-decay",
    "1e-8",
    "--finetune-dropout",
    "0.5",
    "--finetune-warmup-epochs",
    "0",
    "--device",
    "cuda",
]


CLI_CASES = [
    ("default", ["--out", "runs/compare"]),
    ("readme_lists", README_LISTS),
    (
        "pretrain_from",
        [
            "--lists",
            "a=x/a_{split}.txt",
            "b=x/b_{split}.txt",
            "--pretrain-from",
            "b=a",
            "--roots",
            "a=/videos/a",
            "--seeds",
            "0",
            "1",
            "--test-splits",
            "test",
            "--pretrain-split",
            "train",
            "--synth-size",
            "smoke",
            "--size",
            "48",
        ],
    ),
    # before: --static-seeds 3 --jitter-seeds --pan-seeds 1
    (
        "synth",
        [
            "--synth-size",
            "smoke",
            "--size",
            "24",
            "--conditions",
            "static=3",
            "pan=1",
            "--rows",
            "random",
            "be",
            "--data-dir",
            "d",
        ],
    ),
]


def compare_config(argv: list[str]) -> CompareConfig:
    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    return config_from_args(p.parse_args(["compare", *argv]))


@pytest.mark.parametrize("case, argv", CLI_CASES)
def test_compare_command_lines_resolve_to_the_recorded_configs(case, argv) -> None:
    _check(FIXTURE[f"cli:{case}"], compare_config(argv))


def test_every_setting_is_a_documented_flag_and_a_set_key(tmp_path) -> None:
    from tbe_lib.book.runner import reproduce

    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    sub = p._subparsers._group_actions[0].choices["compare"]
    flags = {a.dest: a for a in sub._actions}
    for name in setting_names():
        assert setting_doc(name) and setting_doc(name) in flags[name].help, name
        assert f"--{name.replace('_', '-')}" in flags[name].option_strings
    cfg = config_from_args(
        p.parse_args(
            [
                "compare",
                "--no-flip",
                "--extra-negative",
                "--resize",
                "none",
                "--crop-scale",
                "0.5",
                "1",
                "--backbone-kwargs",
                '{"widths": [8, 16]}',
            ]
        )
    )
    assert (cfg.flip, cfg.extra_negative, cfg.resize, cfg.crop_scale) == (False, True, None, (0.5, 1.0))
    assert cfg.backbone_kwargs == {"widths": [8, 16]}
    with pytest.raises(ValueError, match="--backbone-kwargs takes a JSON object"):
        config_from_args(p.parse_args(["compare", "--backbone-kwargs", "widths=8"]))

    # --set: fields of CompareConfig reach every notebook's `overrides`; an unknown key is one error naming them
    unknown = r"--set: no notebook declares \['nope'\].*CompareConfig fields\): .*pretrain_lr"
    with pytest.raises(ValueError, match=unknown):
        reproduce("smoke", project_root=REPO, out=tmp_path, settings={"nope": 1}, build=False, log=lambda m: None)
    with pytest.raises(ValueError, match=r"--set: pretrain_steps must be int, got 'many'"):
        reproduce(
            "smoke",
            project_root=REPO,
            out=tmp_path,
            settings={"pretrain_steps": "many"},
            build=False,
            log=lambda m: None,
        )
    with pytest.raises(ValueError, match="rows: unknown \\['nope'\\]"):
        profile_config("cpu", {"rows": ["random", "nope"]})
    # the paper profile on one dataset: its other conditions' entries are ignored
    one = profile_config("paper", {"conditions": {"ucf101": [0, 1, 2]}})
    assert one.conditions == {"ucf101": (0, 1, 2)} and one.pretrain_from == {"hmdb51": "ucf101"}
    assert EXPERIMENT_PROFILES["paper"].experiment.conditions["hmdb51"] == (0,)  # the profile is left as it was


def _legacy_run(config) -> Path:
    """A run folder as the code before unit records left it: config.json and its output."""
    run = Path(config.run_dir)
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(to_jsonable(config)))
    return run


def test_runs_made_before_records_are_adopted_once_or_moved_aside(tmp_path) -> None:
    cfg = CompareConfig(out_dir=str(tmp_path / "cmp"), data_dir=str(tmp_path / "data"), conditions={"static": (0,)})
    pc = pretrain_config(cfg, "static", 0, "be")
    run = _legacy_run(pc)
    (run / "encoder.pt").write_bytes(b"encoder")
    pc.data.workers, pc.device = 7, "cuda"  # not part of the result
    assert bring_up_to_date(run_step(pc)) is False  # adopted: not run again
    rec = read_record(run / RECORD_NAME)
    assert rec is not None and rec["settings"]["optim.lr"] == cfg.pretrain_lr and "data.workers" not in rec["settings"]
    assert bring_up_to_date(run_step(pc)) is False and read_record(run / RECORD_NAME) == rec  # recorded once

    # a finetuning run from another encoder (source.json of the time) is moved aside
    fc = finetune_config(cfg, "static", 0, "be")
    ft = _legacy_run(fc)
    (ft / "results.json").write_text("{}")
    (ft / "source.json").write_text(json.dumps({"init": "0" * 16}))
    assert retire_if_changed(fc) and not ft.exists() and len(list(ft.parent.glob("finetune_be.stale-*"))) == 1
    # ... and one from the same encoder, with the settings of the time, is adopted
    ft2 = _legacy_run(fc)
    (ft2 / "source.json").write_text(json.dumps({"init": file_digest(run / "encoder.pt")}))
    assert not retire_if_changed(fc)
    fc.optim.lr *= 2
    assert retire_if_changed(fc)

    # a recorded unit with other settings is stale, and says how
    pc.optim.lr = 0.5
    step = run_step(pc)
    assert differences(Unit.of(step.record, step.settings, step.input_files)) == ["optim.lr: 0.03 -> 0.5"]


def test_legacy_retrieval_and_activation_maps(tmp_path) -> None:
    cfg = CompareConfig(out_dir=str(tmp_path / "cmp"), conditions={"static": (0,)})
    rc = retrieval_config(cfg, "static", 0, "be")
    rdir = Path(rc.out_dir)
    rdir.mkdir(parents=True)
    (rdir / "retrieval.json").write_text("{}")
    unit = Unit(rdir / RECORD_NAME, {"frames": 8, "data": "data/synth-default-static"}, {"checkpoint": "abc"})
    assert legacy_differences(unit, rc) == []  # made before source.json: trusted, as then
    (rdir / "source.json").write_text(
        json.dumps({"config": {"frames": 8, "data": "data/synth-default-static"}, "checkpoint": "abd"})
    )
    assert legacy_differences(unit, rc) == ["input checkpoint: 'abd' -> 'abc'"]
    seed = rdir.parent
    (seed / "actor_mass.json").write_text(json.dumps({"rows": {"be": {"model_sha256": "m1"}}}))
    cam = Unit(seed / "actor_mass.unit.json", {}, {"be": "m1"})
    assert legacy_differences(cam) == []
    assert legacy_differences(Unit(cam.record, {}, {"be": "m2"})) == ["input be: 'm1' -> 'm2'"]


def test_chapter_7_quotes_the_motion_check_only_when_it_was_run_on_its_benchmark_and_clips(tmp_path) -> None:
    from tbe_lib.book.experiment import motion_check_result

    cfg = CompareConfig(data_dirs={"static": str(tmp_path / "synth")}, conditions={"static": (0,)}, frames=8, stride=2)
    run = tmp_path / "motion_check"
    run.mkdir()
    assert motion_check_result(cfg, run) is None  # not run

    def made(source, frames=8):
        data = {"source": str(source), "frames": frames, "stride": 2, "size": cfg.size}
        (run / "config.json").write_text(json.dumps({"data": data, "epochs": 40}))

    made(tmp_path / "synth")
    assert motion_check_result(cfg, run) is None  # no results: incomplete
    results = {"test_shift": {"video_top1": 64.5}, "test_same": {"video_top1": 61.5}}
    (run / "results.json").write_text(json.dumps({"results": results}))
    assert motion_check_result(cfg, run) == {"epochs": 40, "test_shift": 64.5, "test_same": 61.5}
    made(tmp_path / "synth-slow")
    assert motion_check_result(cfg, run) is None  # another benchmark
    made(tmp_path / "synth", frames=16)
    assert motion_check_result(cfg, run) is None  # other clips
