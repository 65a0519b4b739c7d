"""``tbe compare``: the comparison table (Random / MoCo / BE and the references, over seeds)
from the command line. The comparison itself is :mod:`tbe_lib.experiment`.

Every setting of :class:`~tbe_lib.experiment.CompareConfig` is a flag named after its field
(``pretrain_lr`` -> ``--pretrain-lr``; ``--size`` is the crop size, ``--synth-size`` the
benchmark's preset), with the field's documentation as help; a flag left out keeps the
field's default. Lists take several values (``--rows random be``), mappings ``NAME=VALUE``
pairs (``--roots ucf101=/videos/UCF-101``; ``--conditions static=0,1,2 jitter=0``: a
condition and its seeds), ``--backbone-kwargs`` JSON. Shorthands for real data:
``--lists NAME=DIR ...`` runs conditions ``NAME`` on lists (``--data-dirs`` with
``--no-synthetic``), each with the seeds ``--seeds``, on the test split ``test`` unless
``--test-splits`` says otherwise.

Every unit of work is a run directory under ``--out`` (``<condition>/seed<s>/...``), reused
when complete and made with the same settings and inputs; a unit made with others is moved
aside to ``<name>.stale-<time>`` and made again, and so is whatever was computed from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

from .experiment import CompareConfig, collect_table, run_comparison, summarise
from .experiment.config import setting_choices, setting_doc, setting_names, setting_types

__all__ = ["add_cli", "config_from_args"]

#: Seeds of each ``--lists`` condition unless ``--seeds`` says otherwise.
LIST_SEEDS = (0, 1, 2)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _item_type(hint: Any) -> Any:
    """The argparse ``type`` of a scalar (``X | None`` accepts ``none``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = next(a for a in typing.get_args(hint) if a is not type(None))
        return lambda s: None if s.lower() in ("none", "null") else inner(s)
    return hint


def _add_setting(p: argparse.ArgumentParser, name: str, hint: Any) -> None:
    """One flag for the field ``name`` of type ``hint``; its default is ``None`` (not given)."""
    f = CompareConfig.__dataclass_fields__[name]
    shown = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kw: dict[str, Any] = {"default": None, "help": f"{setting_doc(name)} (default: {shown!r})"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif origin is tuple:
        kw.update(nargs=len(args) if args[-1] is not Ellipsis else "+", type=args[0])
    elif origin is dict:
        kw.update(nargs="+", metavar="NAME=SEEDS" if name == "conditions" else "NAME=VALUE")
        if args[1] is Any:
            kw.update(nargs=None, metavar="JSON")
    else:
        kw["type"] = _item_type(hint)
    choices = setting_choices(name)
    if choices is not None and origin is not dict:
        kw["choices"] = choices
    p.add_argument(_flag(name), *(["--out"] if name == "out_dir" else []), dest=name, **kw)


def add_cli(subparsers: "argparse._SubParsersAction") -> None:
    """Add ``tbe compare`` to ``subparsers`` (handler in ``func``)."""
    p = subparsers.add_parser(
        "compare",
        help="the comparison table: Random / MoCo / BE (+ references), over seeds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--lists",
        nargs="+",
        metavar="NAME=DIR",
        default=None,
        help="real data instead of the benchmark: conditions NAME whose DIR holds lists/<split>.txt, or a "
        "list template with {split} (e.g. data_lists/ucf101/ucf101_video_{split}_split1.txt)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=list(LIST_SEEDS), help="seeds of each --lists condition")
    for name, hint in setting_types().items():
        _add_setting(p, name, hint)
    p.set_defaults(func=_cli_compare)


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict; a value without ``=`` is an error naming the flag."""
    bad = [v for v in values or [] if "=" not in v]
    if bad:
        raise ValueError(f"{flag} takes NAME=VALUE pairs, got {bad}")
    return dict(v.split("=", 1) for v in values or [])


def _value(name: str, raw: Any) -> Any:
    """A parsed flag's value as the field ``name`` takes it (mappings from their pairs or JSON)."""
    hint = setting_types()[name]
    if typing.get_origin(hint) is not dict:
        return raw
    if typing.get_args(hint)[1] is Any:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"{_flag(name)} takes a JSON object, got {raw!r} ({e.msg})") from None
    pairs = _pairs(raw, _flag(name))
    if name == "conditions":
        return {c: tuple(int(s) for s in seeds.split(",") if s) for c, seeds in pairs.items()}
    return pairs


def config_from_args(a: argparse.Namespace) -> CompareConfig:
    """The :class:`CompareConfig` of ``tbe compare``'s arguments: the fields given as flags,
    the shorthand ``--lists`` applied, the defaults for the rest."""
    given = {n: _value(n, getattr(a, n)) for n in setting_names() if getattr(a, n, None) is not None}
    if a.lists:
        lists = _pairs(a.lists, "--lists")
        given = {
            "synthetic": False,
            "conditions": {n: tuple(a.seeds) for n in lists},
            "test_splits": ("test",),
            **given,
            "data_dirs": {**given.get("data_dirs", {}), **lists},
        }
    return CompareConfig(**given)


def _cli_compare(a: argparse.Namespace) -> int:
    cfg = config_from_args(a)
    run_comparison(cfg)
    df = collect_table(cfg)
    shown = ("finetune_", "probe_", "R@1_", "motion_probe_", "contrastive_")
    cols = [c for c in df.columns if c.startswith(shown) or c == "background_probe"]
    _, _, pretty = summarise(df, cols)
    pretty.to_csv(Path(cfg.out_dir) / "summary.csv")
    print(pretty.to_string())
    print(f"[compare] wrote {Path(cfg.out_dir) / 'table.csv'} and summary.csv")
    return 0
