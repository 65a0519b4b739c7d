"""``tbe reproduce``: parameters, cache, failures, placeholders, the site build, the real notebooks.

The runner is tested on tiny notebooks written into a temporary project with a custom registry;
the real notebooks 01-02 run under the smoke profile (marked slow, still run in CI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tbe_lib.book import PROFILES, STAGES, Profile, Stage, add_cli
from tbe_lib.book.runner import (
    PLACEHOLDER_MARK,
    StageError,
    build_site,
    check_registry,
    declared_parameters,
    reproduce,
    resolve_parameters,
)

REPO = Path(__file__).resolve().parents[1]


def write_nb(path: Path, params_src: str, *cells: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(params_src), *[new_code_cell(c) for c in cells]])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def append_markdown(nb_path: Path, text: str) -> None:
    """Edit a notebook on disk (a new markdown cell at the end)."""
    nb = nbformat.read(str(nb_path), as_version=4)
    nb.cells.append(new_markdown_cell(text))
    nbformat.write(nb, str(nb_path))


def stream_text(nb_path: Path) -> str:
    nb = nbformat.read(str(nb_path), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def result_of(nb_path: Path) -> dict:
    """The JSON line a test notebook prints (``RESULT {...}``)."""
    line = next(ln for ln in stream_text(nb_path).splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


PROFILES_T = {
    "small": Profile("small", "small test profile", {"profile": "small", "seed": 0, "unused_here": 1}),
    "big": Profile("big", "big test profile", {"profile": "big", "seed": 0}),
}
STAGES_T = (
    Stage("a_first", "First", params={"small": {"n": 2}, "big": {"n": 5}}),
    Stage("b_second", "Second", depends=("a_first",), params={"small": {"fail": False}}),
)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_nb(
        tmp_path / "notebooks" / "a_first.ipynb",
        'n = 1\nprofile = "none"\nseed = 0',
        "import json, sys, os\n"
        "print('RESULT ' + json.dumps({'value': n * 10, 'profile': profile, 'exe': sys.executable,"
        " 'papermill': os.environ.get('PAPERMILL_EXECUTION'), 'progress': os.environ.get('TBE_PROGRESS'),"
        " 'cwd': os.getcwd()}))",
    )
    write_nb(
        tmp_path / "notebooks" / "b_second.ipynb",
        "fail = False\nprofile = 'none'",
        "x = 1",
        "if fail:\n    raise ValueError('boom in b')\nprint('RESULT ' + '{\"ok\": true}')",
    )
    return tmp_path


def run(project: Path, profile: str = "small", stages=STAGES_T, **kw):
    res = reproduce(
        profile,
        project_root=project,
        stages=stages,
        profiles=PROFILES_T,
        build=False,
        log_output=False,
        log=lambda m: None,
        **kw,
    )
    return {r.name: r for r in res}


def test_parameters_reach_the_notebook_and_kernel_is_this_python(project: Path, tmp_path_factory, monkeypatch) -> None:
    # a user-level "python3" kernelspec of some other Python must not be picked up
    user = tmp_path_factory.mktemp("jupyter-user")
    (user / "kernels" / "python3").mkdir(parents=True)
    (user / "kernels" / "python3" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "other",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(user))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")  # user dir before the venv's, as outside a venv
    res = run(project)
    assert res["a_first"].status == "executed" and res["b_second"].status == "executed"
    out = result_of(project / "book" / "a_first.ipynb")
    assert out["value"] == 20 and out["profile"] == "small"  # registry value and profile's common key
    assert Path(out["exe"]).resolve() == Path(sys.executable).resolve()
    assert out["papermill"] == "1" and out["progress"] == "summary"  # pages get one line per training run
    assert Path(out["cwd"]).resolve() == (project / "notebooks").resolve()
    rec = json.loads((project / "book" / ".cache" / "a_first.json").read_text())
    assert rec["key"] == res["a_first"].key and rec["settings"]["params"] == {"profile": "small", "seed": 0, "n": 2}


def test_cache_skips_unchanged_and_reruns_changed(project: Path) -> None:
    first = run(project)
    second = run(project)
    assert {r.status for r in second.values()} == {"cached"}
    assert second["a_first"].key == first["a_first"].key

    # another profile: different parameters -> different key and output
    big = run(project, "big")
    assert big["a_first"].status == "executed" and big["a_first"].key != first["a_first"].key
    assert result_of(project / "book" / "a_first.ipynb")["value"] == 50
    run(project)  # back to small

    # downstream notebook edited: only it re-runs
    append_markdown(project / "notebooks" / "b_second.ipynb", "an edit")
    third = run(project)
    assert third["a_first"].status == "cached" and third["b_second"].status == "executed"

    # upstream edited: both re-run (the upstream key enters the downstream key)
    append_markdown(project / "notebooks" / "a_first.ipynb", "an edit")
    fourth = run(project)
    assert fourth["a_first"].status == "executed" and fourth["b_second"].status == "executed"
    assert fourth["b_second"].key != third["b_second"].key

    # --force re-runs; --only leaves the other stage alone
    forced = run(project, force=True, only=["b_second"])
    assert forced["b_second"].status == "executed" and forced["a_first"].status == "not-selected"


def test_failing_notebook_names_cell_and_keeps_earlier_outputs(project: Path) -> None:
    run(project)
    book = project / "book"
    a_before, b_before = (book / "a_first.ipynb").read_bytes(), (book / "b_second.ipynb").read_bytes()
    rec_before = (book / ".cache" / "b_second.json").read_text()
    failing = (STAGES_T[0], Stage("b_second", "Second", depends=("a_first",), params={"small": {"fail": True}}))
    with pytest.raises(StageError) as ei:
        run(project, stages=failing)
    e = ei.value
    assert e.stage == "b_second" and e.ename == "ValueError" and "boom in b" in e.evalue
    assert "b_second" in str(e) and f"cell {e.cell_index}" in str(e) and "b_second.failed.ipynb" in str(e)
    assert "raise ValueError" in e.source and f"In [{e.exec_count}]" in str(e)
    failed = nbformat.read(str(book / "b_second.failed.ipynb"), as_version=4)
    [cell] = [c for c in failed.cells if c.get("execution_count") == e.exec_count]
    assert "raise ValueError" in cell.source and cell.outputs[-1]["output_type"] == "error"
    # earlier results untouched: the upstream output, the last good copy and its cache record
    assert (book / "a_first.ipynb").read_bytes() == a_before
    assert (book / "b_second.ipynb").read_bytes() == b_before
    assert (book / ".cache" / "b_second.json").read_text() == rec_before
    assert not list(book.glob(".*.running.ipynb"))
    # fixed again: the failed copy is cleared
    run(project)
    assert not (book / "b_second.failed.ipynb").exists()


def test_missing_notebook_is_skipped_with_placeholder(project: Path) -> None:
    stages = (*STAGES_T, Stage("c_later", "Later chapter", depends=("b_second",)))
    res = run(project, stages=stages)
    assert res["c_later"].status == "missing"
    page = project / "book" / "c_later.md"
    assert page.read_text().startswith(PLACEHOLDER_MARK) and "does not exist yet" in page.read_text()
    # once the notebook exists and runs, the placeholder goes
    write_nb(project / "notebooks" / "c_later.ipynb", "profile = 'none'", "print('RESULT {}')")
    res = run(project, stages=stages)
    assert res["c_later"].status == "executed" and not page.exists()


def test_registry_errors_are_clear(project: Path) -> None:
    declared = declared_parameters(project / "notebooks" / "a_first.ipynb")
    assert set(declared) == {"n", "profile", "seed"}
    # precedence: profile common < command-line override < the stage's own value; undeclared keys dropped
    small = PROFILES_T["small"]
    assert resolve_parameters(STAGES_T[0], small, declared, {"seed": 7, "data_dir": "x"}) == {
        "profile": "small",
        "seed": 7,
        "n": 2,
    }
    assert resolve_parameters(STAGES_T[0], small, declared, {"n": 9})["n"] == 2
    typo = Stage("a_first", "First", params={"small": {"nn": 2}})
    with pytest.raises(ValueError, match=r"sets \['nn'\].*does not declare"):
        resolve_parameters(typo, PROFILES_T["small"], declared)
    with pytest.raises(ValueError, match="not registered before it"):
        check_registry((STAGES_T[1], STAGES_T[0]), PROFILES_T)
    with pytest.raises(ValueError, match="unknown profiles"):
        check_registry((Stage("x", "X", params={"gpu": {}}),), PROFILES_T)
    with pytest.raises(ValueError, match="unknown profile"):
        run(project, "nope")
    with pytest.raises(ValueError, match="unknown notebook"):
        run(project, only=["zzz"])
    # --set wins over the stage's own value, only where declared; a key no notebook declares is an error
    assert resolve_parameters(STAGES_T[0], small, declared, {"n": 9}, {"n": 4, "zz": 1})["n"] == 4
    run(project)
    assert result_of(project / "book" / "a_first.ipynb")["value"] == 20
    res = run(project, settings={"n": 3})
    assert res["a_first"].status == "executed" and result_of(project / "book" / "a_first.ipynb")["value"] == 30
    with pytest.raises(ValueError, match=r"--set: no notebook declares \['typo'\]"):
        run(project, settings={"typo": 1})
    no_tag = project / "notebooks" / "untagged.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("n = 1")]), str(no_tag))
    with pytest.raises(ValueError, match="no code cell tagged 'parameters'"):
        declared_parameters(no_tag)


# ------------------------------------------------------------------ the real book's files
def test_real_registry_notebooks_and_toc_agree() -> None:
    check_registry(STAGES, PROFILES)
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    toc_files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    for stage in STAGES:
        assert f"book/{stage.name}" in toc_files, f"_toc.yml lacks book/{stage.name}"
        src = REPO / stage.source
        if not src.is_file():
            continue
        nb = nbformat.read(str(src), as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "parameters" in first_code.metadata.get("tags", []), f"{src.name}: first code cell not tagged"
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            f"{src.name}: commit it without outputs"
        )
        declared = declared_parameters(src)
        for profile in PROFILES.values():
            resolve_parameters(stage, profile, declared)  # raises on undeclared registry keys


def test_chapters_take_the_experiment_from_the_profile_and_copy_no_setting() -> None:
    """Every chapter names its profile (default: cpu, so it runs as it is in JupyterLab) and its
    overrides; none declares a setting of the experiment (CompareConfig's fields live once, in
    tbe_lib/experiment), and every profile offers the notebooks only its name."""
    from tbe_lib.experiment import setting_names

    for s in STAGES:
        declared = declared_parameters(REPO / s.source)
        assert declared["profile"] == '"cpu"' and declared["overrides"] == "{}", s.name
        assert not set(declared) & set(setting_names()), (s.name, set(declared) & set(setting_names()))
    for profile in PROFILES.values():
        assert dict(profile.common) == {"profile": profile.name}


def test_cli_parses() -> None:
    from tbe_lib.book import parse_settings

    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    args = p.parse_args(["reproduce", "--profile", "smoke", "--only", "01_background_erasing", "02_data", "--force"])
    assert args.profile == "smoke" and args.only == ["01_background_erasing", "02_data"] and args.force
    args = p.parse_args(
        ["reproduce", "--set", "pretrain_steps=20", 'datasets={"a": "a/a_{split}.txt"}', "device=cuda", "resize=null"]
    )
    assert parse_settings(args.set) == {
        "pretrain_steps": 20,
        "datasets": {"a": "a/a_{split}.txt"},
        "device": "cuda",
        "resize": None,
    }
    with pytest.raises(SystemExit):
        parse_settings(["no_equals_sign"])
    with pytest.raises(SystemExit):
        p.parse_args(["reproduce", "--profile", "laptop"])


# ------------------------------------------------------------------------------ slow
@pytest.mark.slow
def test_site_build_of_a_tiny_book(tmp_path: Path) -> None:
    (tmp_path / "_config.yml").write_text(
        'title: "tiny"\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: "off"\n'
    )
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/a_first\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Tiny\n\nA tiny book.\n")
    write_nb(tmp_path / "notebooks" / "a_first.ipynb", "n = 1", "from myst_nb import glue\nglue('answer', n * 21)")
    nb = nbformat.read(str(tmp_path / "notebooks" / "a_first.ipynb"), as_version=4)
    nb.cells.insert(0, new_markdown_cell("# Chapter\n\nThe answer is {glue:text}`answer`."))
    nbformat.write(nb, str(tmp_path / "notebooks" / "a_first.ipynb"))
    stages = (Stage("a_first", "First", params={"small": {"n": 2}}),)
    reproduce(
        "small",
        project_root=tmp_path,
        stages=stages,
        profiles=PROFILES_T,
        build=True,
        log_output=False,
        log=lambda m: None,
    )
    page = tmp_path / "book" / "_build" / "html" / "book" / "a_first.html"
    assert (tmp_path / "book" / "_build" / "html" / "index.html").is_file()
    assert "The answer is" in page.read_text() and ">42<" in page.read_text()  # glued from the executed notebook
    # a broken toc names the problem
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/nothing_here\n")
    with pytest.raises(Exception, match="nothing_here|failed"):
        build_site(tmp_path, log=lambda m: None)


@pytest.mark.slow
def test_real_notebooks_01_02_run_under_smoke(tmp_path: Path, book_project: Path) -> None:
    p = argparse.ArgumentParser()
    add_cli(p.add_subparsers(dest="command"))
    out = tmp_path / "book"
    args = p.parse_args(
        [
            "reproduce",
            "--profile",
            "smoke",
            "--only",
            "01_background_erasing",
            "02_data",
            "--out",
            str(out),
            "--data",
            str(tmp_path / "synth"),
            "--no-build",
            "--quiet",
            "--root",
            str(book_project),
        ]
    )
    assert args.func(args) == 0
    for name in ("01_background_erasing", "02_data"):
        nb = nbformat.read(str(out / f"{name}.ipynb"), as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"]
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3, f"{name}: figures missing"
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and 'profile = "smoke"' in injected[0].source
        # both parameter cells are folded on the site (the story first)
        assert all(
            "hide-input" in c.metadata["tags"]
            for c in nb.cells
            if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))
        )
    text = stream_text(out / "01_background_erasing.ipynb")
    prose = "".join(
        "".join(o.get("data", {}).get("text/markdown", ""))
        for c in nbformat.read(str(out / "01_background_erasing.ipynb"), as_version=4).cells
        for o in c.get("outputs", [])
    )
    # intra-video BE leaves a static background exactly unchanged, and the prose says so with its number
    assert "the largest change\nof any background pixel with the static camera is 0.00 grey levels" in prose
    assert "real video carphone_pristine.mp4: centre clip of 8 frames" in text  # BE on a real H.264 clip too
    assert (tmp_path / "synth" / "manifest.json").is_file()  # --data reached 02's data_dir
    params = json.loads((out / ".cache" / "02_data.json").read_text())["settings"]["params"]
    assert params["overrides"]["data_dir"] == str(tmp_path / "synth")
