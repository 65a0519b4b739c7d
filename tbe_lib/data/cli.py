"""``tbe data ...``: the data sub-commands (embedded benchmark, list builders, re-encoding)."""

from __future__ import annotations

import argparse
import importlib

# Each module adds one sub-command of ``tbe data`` through ``add_cli(subparsers)``.
_DATA_MODULES = ("tbe_lib.data.synth", "tbe_lib.data.lists", "tbe_lib.data.prepare")


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="build the embedded benchmark, list files, re-encode videos")
    sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)
    for mod in _DATA_MODULES:
        importlib.import_module(mod).add_cli(sub)
