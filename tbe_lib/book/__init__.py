"""The research book: the notebook registry and profiles (:mod:`.registry`), the papermill
runner with its cache and the site build (:mod:`.runner`), helpers the notebooks share
(:mod:`.helpers`) and the ``tbe reproduce`` command (:func:`add_cli`).

    tbe reproduce --profile smoke|cpu|full|paper [--only NAME ...] [--force] [--out book/] [--data DIR]

Heavy imports (papermill, jupyter-book) happen inside the functions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .registry import PROFILES, STAGES, Profile, Stage, stage_by_name

__all__ = ["PROFILES", "STAGES", "Profile", "Stage", "stage_by_name", "add_cli"]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_settings(pairs: "list[str] | None") -> dict:
    """``["k=v", ...]`` -> ``{k: v}`` with ``v`` parsed as JSON when it is JSON, else kept as a string."""
    import json

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SystemExit(f"tbe reproduce: --set takes KEY=VALUE with a parameter name as KEY, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import signal

    from .runner import BuildError, StageError, build_site, reproduce

    # a `kill` (CI timeout) unwinds like Ctrl-C: the running notebook is kept as NAME.failed.ipynb
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.build_only:
            build_site(
                args.root,
                Path(args.root) / args.out if not Path(args.out).is_absolute() else args.out,
                strict=args.strict,
            )
            return _check(args) if args.check or args.write_reference else 0
        reproduce(
            args.profile,
            only=args.only,
            force=args.force,
            out=args.out,
            data=args.data,
            settings=parse_settings(args.set),
            project_root=args.root,
            build=not args.no_build,
            strict=args.strict,
            log_output=not args.quiet,
            timeout=args.cell_timeout,
            log=lambda m: print(m, flush=True),
        )
    except StageError as e:
        print(f"tbe reproduce: error: {e}", file=sys.stderr)
        return 1
    except BuildError as e:
        print(f"tbe reproduce: error: {e}", file=sys.stderr)
        return 3
    if args.check or args.write_reference:
        return _check(args)
    return 0


def _check(args: argparse.Namespace) -> int:
    """``--check`` / ``--write-reference``: the build's table against the profile's reference."""
    from ..environment import run_environment
    from ..experiment.profiles import profile_config
    from ..experiment.reference import (
        build_environment,
        reference_path,
        reproduction_report,
        summary_csv_cells,
        write_reference,
    )
    from .registry import STAGES
    from .runner import _split_settings

    root = Path(args.root).resolve()
    overrides, _ = _split_settings(root, STAGES, args.profile, parse_settings(args.set), args.data)
    out_dir = Path(profile_config(args.profile, overrides, root=root).out_dir)
    ref = reference_path(args.profile, root)
    if args.write_reference:
        env = build_environment(out_dir) or run_environment("cpu")
        made_by = {"command": "tbe reproduce --profile " + args.profile, "commit": env.get("git_commit")}
        write_reference(ref, args.profile, summary_csv_cells(out_dir / "summary.csv"), env, made_by)
        print(f"[reproduce] reference written: {ref}")
        return 0
    if not ref.is_file():
        print(
            f"tbe reproduce: error: no reference table for profile {args.profile!r} ({ref}); make one from a "
            "build you trust with --write-reference",
            file=sys.stderr,
        )
        return 2
    report = reproduction_report(out_dir, ref)
    for sentence in report.sentences():
        print(f"[reproduce] {sentence}")
    if not report.ok:
        print(f"tbe reproduce: check failed: headline cells moved beyond their tolerance ({ref})", file=sys.stderr)
        return 4
    return 0


def add_cli(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``tbe reproduce`` to ``subparsers`` (handler in ``func``)."""
    profiles = ", ".join(f"{p.name} ({p.description})" for p in PROFILES.values())
    p = subparsers.add_parser(
        "reproduce",
        help="execute the book's notebooks (papermill) and build the site (jupyter-book)",
        description="Execute notebooks/*.ipynb with the profile's parameters into book/ (skipping "
        "notebooks whose code, parameters and inputs have not changed), then build the site into "
        f"book/_build/html. Profiles: {profiles}. Notebooks, in order: {', '.join(s.name for s in STAGES)}.",
    )
    p.add_argument("--profile", choices=list(PROFILES), default="cpu", help="sizes of the run (default: %(default)s)")
    p.add_argument(
        "--only", nargs="+", metavar="NAME", help="execute only these notebooks (names as in notebooks/, no .ipynb)"
    )
    p.add_argument("--force", action="store_true", help="re-execute even when the cache says up to date")
    p.add_argument(
        "--out",
        default="book",
        help="folder of the executed notebooks (default: %(default)s; the site is "
        "built only from book/, which _toc.yml reads)",
    )
    p.add_argument(
        "--data",
        default=None,
        help="the experiment's data_dir (the embedded benchmark's folder; for "
        "--profile paper, the folder holding the datasets' lists)",
    )
    p.add_argument(
        "--set",
        nargs="+",
        metavar="KEY=VALUE",
        default=[],
        help="override a setting of the experiment (a field of CompareConfig, tbe_lib/experiment/config.py) "
        "or a chapter's own parameter; VALUE is JSON (numbers, lists, dicts, null) or else a string, e.g. "
        "--set pretrain_steps=2000 'conditions={\"ucf101\": [0, 1]}'",
    )
    p.add_argument("--root", default=".", help="project root with _config.yml, _toc.yml and notebooks/ (default: .)")
    p.add_argument("--no-build", action="store_true", help="execute the notebooks but do not build the site")
    p.add_argument("--build-only", action="store_true", help="only build the site from the executed notebooks")
    p.add_argument("--strict", action="store_true", help="treat Sphinx warnings as errors")
    p.add_argument("--quiet", action="store_true", help="do not stream cell output to the console")
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell before failing (default: none)")
    p.add_argument(
        "--check",
        action="store_true",
        help="then compare the table with bench/results/reference_<profile>.json cell by cell; exit 4 when a headline "
        "cell moved beyond its tolerance (max(1 point, 2 x its seed-to-seed std)); with --build-only, checks the "
        "existing build",
    )
    p.add_argument("--write-reference", action="store_true", help="then make this build the profile's reference table")
    p.set_defaults(func=_cmd_reproduce)
