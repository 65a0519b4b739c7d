"""The `tbe` command line: every stage is listed, `tbe --help` stays light, and a command
loads its own stage."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from tbe_lib.cli import _STAGE_COMMANDS, build_parser, main


def test_listed_help_matches_each_stage_module():
    for name, (modname, help_text) in _STAGE_COMMANDS.items():
        p = argparse.ArgumentParser()
        sub = p.add_subparsers()
        importlib.import_module(modname).add_cli(sub)
        [action] = [a for a in sub._choices_actions if a.dest == name]
        assert action.help == help_text, name


def test_help_does_not_import_torch_and_commands_still_parse():
    code = (
        "import sys, contextlib, io\nfrom tbe_lib.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "assert 'reproduce' in out.getvalue() and 'pretrain' in out.getvalue()\n"
        "print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
    args = build_parser(only="compare").parse_args(["compare", "--lists", "a=x/{split}.txt", "--pretrain-from", "b=a"])
    assert args.lists == ["a=x/{split}.txt"] and args.pretrain_from == ["b=a"] and callable(args.func)


def test_bad_input_is_one_line_error(tmp_path, capsys):
    assert main(["retrieve", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tbe retrieve: error:") and "missing" in err


def test_compare_pairs_without_equals_sign_are_named(capsys):
    assert main(["compare", "--lists", "ucf101=x/{split}.txt", "--pretrain-from", "hmdb51"]) == 2
    err = capsys.readouterr().err
    assert "--pretrain-from takes NAME=VALUE pairs" in err and "hmdb51" in err
