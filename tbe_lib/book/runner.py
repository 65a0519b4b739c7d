"""``tbe reproduce``: execute the book's notebooks with papermill, cache them, build the site.

For each stage of the registry (:mod:`.registry`), in order:

1. Parameters: the profile's common keys the notebook declares (the profile's name), the
   experiment's overrides (``--data`` and the ``--set`` keys that are ``CompareConfig``
   fields, as one ``overrides`` dict), the stage's per-profile values, then the ``--set`` keys
   that are the chapter's own (:func:`resolve_parameters`).
2. Staleness, by the rule the comparison's runs follow (:mod:`tbe_lib.experiment.staleness`,
   :func:`stage_unit`): a stage is a unit whose settings are its parameters, the profile and
   the keys of the upstream stages, and whose inputs are the notebook's source and every
   ``tbe_lib`` module (:func:`library_hash`), by content. ``book/.cache/<name>.json`` records
   the key of the executed copy ``book/<name>.ipynb``; when both are there and the key
   matches, the stage is skipped.
3. Execution (:func:`execute_stage`): papermill, kernel ``python3`` pinned to *this*
   interpreter (a kernelspec written to a temporary ``JUPYTER_PATH``, so a user-level
   ``python3`` kernel of another Python cannot be picked up), working directory = the
   notebook's folder (as in JupyterLab), environment ``PAPERMILL_EXECUTION=1``,
   ``TBE_PROGRESS=summary`` (training loops print one summary line per run, their log lines go
   to the run's ``train.log``) and
   ``TBE_PROJECT_ROOT``; cell output is streamed to the console. The notebook is written to
   ``book/.<name>.running.ipynb`` and renamed to ``book/<name>.ipynb`` on success. On
   failure it is renamed ``book/<name>.failed.ipynb``, :class:`StageError` names the
   notebook and the cell, and nothing else is touched: earlier stages' outputs stay.

Registered notebooks whose source does not exist yet are skipped with a message. Every
registered stage without an executed copy in ``book/`` gets a placeholder page
``book/<name>.md`` (first line :data:`PLACEHOLDER_MARK`), removed when the notebook is
executed, so ``_toc.yml`` can list all chapters and the site always builds cleanly.

Finally :func:`build_site` runs ``jupyter-book build`` on the project root (``_config.yml``
says ``execute_notebooks: off``: nothing is re-executed) into ``book/_build/html``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from ..experiment.config import setting_names
from ..experiment.profiles import EXPERIMENT_PROFILES, profile_config
from ..experiment.staleness import Unit, differences, file_digest, read_record, tree_digest, write_record
from .registry import PROFILES, STAGES, Profile, Stage

__all__ = [
    "StageError",
    "BuildError",
    "StageResult",
    "PLACEHOLDER_MARK",
    "library_hash",
    "stage_unit",
    "stage_key",
    "declared_parameters",
    "resolve_parameters",
    "check_registry",
    "execute_stage",
    "reproduce",
    "build_site",
    "write_placeholders",
]

PLACEHOLDER_MARK = "<!-- tbe-placeholder: written by tbe reproduce, replaced when the notebook is executed -->"
KERNEL_NAME = "python3"


class StageError(RuntimeError):
    """A notebook failed: ``stage``, ``cell_index`` (0-based, counting papermill's injected
    parameters cell), ``exec_count`` (the ``In [n]`` number), the cell's ``source``,
    ``ename``, ``evalue`` and ``failed_path`` (the partial notebook, where papermill adds an
    error banner at the top)."""

    def __init__(
        self,
        message: str,
        *,
        stage: str,
        cell_index: int | None = None,
        exec_count: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
        source: str | None = None,
        failed_path: Path | None = None,
    ):
        super().__init__(message)
        self.stage, self.cell_index, self.exec_count, self.source = stage, cell_index, exec_count, source
        self.ename, self.evalue, self.failed_path = ename, evalue, failed_path


class BuildError(RuntimeError):
    """``jupyter-book build`` failed (the message holds the end of its output)."""


@dataclass(frozen=True)
class StageResult:
    """What happened to one stage: ``status`` is ``executed``, ``cached``, ``missing``
    (no source notebook) or ``not-selected`` (left out by ``only``)."""

    name: str
    status: str
    seconds: float = 0.0
    key: str | None = None
    output: Path | None = None


# ----------------------------------------------------------------------------- cache keys
def library_hash(package_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 over the relative paths and contents of every ``*.py`` file of ``tbe_lib``
    (or of ``package_dir``), in sorted order: any code change gives a new hash."""
    return tree_digest(Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[1])


def stage_unit(
    record: Path,
    notebook: Path | None,
    params: Mapping[str, Any],
    profile: str,
    lib_hash: str,
    upstream: Sequence[str] = (),
) -> Unit:
    """One stage as a unit of work (:mod:`tbe_lib.experiment.staleness`): its settings are the
    parameters, the profile and the keys of the upstream stages; its inputs the notebook's
    source and the library. ``notebook=None`` (no source yet) keys as missing, so that
    downstream stages re-run once it appears."""
    return Unit(
        record,
        {"profile": profile, "params": dict(params), "upstream": list(upstream)},
        {"notebook": file_digest(notebook) if notebook is not None else None, "library": lib_hash},
    )


def stage_key(
    notebook: Path | None, params: Mapping[str, Any], profile: str, lib_hash: str, upstream: Sequence[str] = ()
) -> str:
    """The cache key of one stage (hex, 16 chars): :func:`stage_unit`'s key."""
    return stage_unit(Path(), notebook, params, profile, lib_hash, upstream).key


# ----------------------------------------------------------------------------- parameters
def declared_parameters(notebook: Path) -> dict[str, str]:
    """Name -> default (as source text) of each top-level assignment of the notebook's cell
    tagged ``parameters``. ``ValueError`` when there is none or it is not valid Python."""
    import ast

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ValueError(
            f"{notebook}: no code cell tagged 'parameters'; tag the first code cell 'parameters' "
            "(JupyterLab: property inspector > cell tags)"
        )
    src = cells[0].source
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        raise ValueError(f"{notebook}: the parameters cell is not valid Python (line {e.lineno}: {e.msg})") from None
    out: dict[str, str] = {}
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for t in targets:
            if isinstance(t, ast.Name) and getattr(node, "value", None) is not None:
                out[t.id] = ast.get_source_segment(src, node.value) or ""
    return out


def resolve_parameters(
    stage: Stage,
    profile: Profile,
    declared: Mapping[str, Any] | set[str],
    overrides: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters ``stage`` runs with under ``profile``, from the least to the most
    specific: the profile's common keys that the notebook declares, the command line's
    ``overrides`` (e.g. ``--data`` -> ``data_dir``; kept only where declared), the stage's own
    values for the profile (so chapter 2 can pin the embedded benchmark under ``paper``, whose
    ``data_dir`` is the real datasets' folder), then ``settings`` (``--set KEY=VALUE``: the
    user's explicit choice wins; kept only where declared). A stage value the notebook does
    not declare is an error."""
    names = set(declared)
    params = {k: v for k, v in profile.common.items() if k in names}
    own = dict(stage.params.get(profile.name, {}))
    unknown = sorted(set(own) - names)
    if unknown:
        raise ValueError(
            f"registry: stage {stage.name!r}, profile {profile.name!r} sets {unknown}, which the notebook's "
            f"parameters cell does not declare (declared: {sorted(names)}); fix the registry or the notebook"
        )
    params.update({k: v for k, v in (overrides or {}).items() if k in names})
    params.update(own)
    params.update({k: v for k, v in (settings or {}).items() if k in names})
    return params


def check_registry(stages: Sequence[Stage], profiles: Mapping[str, Profile]) -> None:
    """Unique names, dependencies registered earlier in the list, known profile names."""
    seen: set[str] = set()
    for s in stages:
        if s.name in seen:
            raise ValueError(f"registry: stage {s.name!r} is registered twice")
        for d in s.depends:
            if d not in seen:
                raise ValueError(f"registry: stage {s.name!r} depends on {d!r}, which is not registered before it")
        bad = sorted(set(s.params) - set(profiles))
        if bad:
            raise ValueError(
                f"registry: stage {s.name!r} has parameters for unknown profiles {bad}; known: {sorted(profiles)}"
            )
        seen.add(s.name)


# ------------------------------------------------------------------------------ execution
@contextlib.contextmanager
def _kernel_env(project_root: Path) -> Iterator[None]:
    """A ``python3`` kernelspec that runs this interpreter, first on ``JUPYTER_PATH``, and
    the environment variables the notebooks see, for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="tbe-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        from ipykernel.kernelspec import get_kernel_dict

        spec = get_kernel_dict()  # ipykernel's own spec for this interpreter
        # this interpreter; the kernel app's own log at ERROR hides ipykernel 7's notice about
        # unencrypted local TCP (cell output, warnings included, is not affected)
        spec["argv"] = [sys.executable, *spec["argv"][1:], "--IPKernelApp.log_level=ERROR"]
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        env = {
            "JUPYTER_PATH": os.pathsep.join(p for p in (tmp, os.environ.get("JUPYTER_PATH", "")) if p),
            "PAPERMILL_EXECUTION": "1",
            "TBE_PROGRESS": "summary",
            "TBE_PROJECT_ROOT": str(project_root),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # silences a debugger warning on frozen modules
        }
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@contextlib.contextmanager
def _stream_papermill(enabled: bool) -> Iterator[None]:
    """Send papermill's log (cell output with ``log_output=True``) to stderr while running."""
    logger = logging.getLogger("papermill")
    if not enabled or logger.handlers:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("    | %(message)s"))
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def execute_stage(
    name: str,
    source: Path,
    out_dir: Path,
    params: Mapping[str, Any],
    *,
    project_root: Path,
    log_output: bool = True,
    kernel_name: str = KERNEL_NAME,
    timeout: float | None = None,
) -> Path:
    """Execute ``source`` with papermill into ``out_dir/<name>.ipynb`` (atomically).

    On a failing cell: the partial notebook becomes ``out_dir/<name>.failed.ipynb`` and
    :class:`StageError` names the notebook, the cell and the error. Any existing
    ``out_dir/<name>.ipynb`` is left as it was."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    out_dir.mkdir(parents=True, exist_ok=True)
    running = out_dir / f".{name}.running.ipynb"
    failed = out_dir / f"{name}.failed.ipynb"
    final = out_dir / f"{name}.ipynb"
    with _kernel_env(project_root), _stream_papermill(log_output):
        try:
            pm.execute_notebook(
                str(source),
                str(running),
                parameters=dict(params),
                kernel_name=kernel_name,
                log_output=log_output,
                progress_bar=False,
                cwd=str(source.parent),
                execution_timeout=timeout,
                report_mode=False,
            )
        except PapermillExecutionError as e:
            if running.exists():
                os.replace(running, failed)
            first_line = str(e.evalue).strip().splitlines()[0] if str(e.evalue).strip() else ""
            code = next((ln.strip() for ln in str(e.source).splitlines() if ln.strip()), "")
            raise StageError(
                f"notebook {name} ({source}) failed in cell {e.cell_index} (In [{e.exec_count}], starting "
                f"`{code[:80]}`): {e.ename}: {first_line}\n  the partial notebook is kept in {failed} "
                "(open it and look for the error cell); earlier notebooks' outputs are intact",
                stage=name,
                cell_index=e.cell_index,
                exec_count=e.exec_count,
                ename=e.ename,
                evalue=e.evalue,
                source=str(e.source),
                failed_path=failed,
            ) from None
        except BaseException:  # kernel death, timeout, Ctrl-C: keep what ran for inspection
            if running.exists():
                os.replace(running, failed)
            raise
    _fold_parameters(running)
    os.replace(running, final)
    if failed.exists():
        failed.unlink()
    return final


def _fold_parameters(path: Path) -> None:
    """Tag the parameters cells (the notebook's defaults and papermill's injected values)
    ``hide-input``: the site folds them behind a "show code" toggle, so a chapter opens with
    its story, not with two screens of settings."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and {"parameters", "injected-parameters"} & set(tags) and "hide-input" not in tags:
            cell.metadata["tags"] = [*tags, "hide-input"]
    nbformat.write(nb, str(path))


def _placeholder_text(stage: Stage, reason: str) -> str:
    return (
        f"{PLACEHOLDER_MARK}\n# {stage.title}\n\n"
        f"```{{note}}\nThis chapter (`{stage.source}`) has not been executed for this build: {reason}\n```\n"
    )


def write_placeholders(stages: Sequence[Stage], out_dir: Path, project_root: Path) -> list[str]:
    """Write ``out_dir/<name>.md`` for every stage without an executed ``<name>.ipynb``; remove
    our placeholders where the notebook now exists. Returns the names given a placeholder."""
    written = []
    for s in stages:
        md, nb = out_dir / f"{s.name}.md", out_dir / f"{s.name}.ipynb"
        ours = md.is_file() and md.read_text(errors="replace").startswith(PLACEHOLDER_MARK)
        if nb.is_file():
            if ours:
                md.unlink()
            continue
        if md.is_file() and not ours:
            continue  # a hand-written page of that name: leave it
        src = project_root / s.source
        reason = (
            "its notebook does not exist yet."
            if not src.is_file()
            else "run `tbe reproduce` (or `make book`) to execute it."
        )
        md.write_text(_placeholder_text(s, reason))
        written.append(s.name)
    return written


def _split_settings(
    root: Path, stages: Sequence[Stage], profile: str, settings: Mapping[str, Any], data: str | os.PathLike | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``--set`` values as (experiment overrides, chapters' own parameters): keys that are
    fields of ``CompareConfig`` (and ``--data``, as ``data_dir``) go to every notebook's
    ``overrides``, checked against the profile's experiment; the others must be declared by a
    notebook. An unknown key is one error listing both."""
    fields = set(setting_names())
    experiment = {k: v for k, v in settings.items() if k in fields}
    own = {k: v for k, v in settings.items() if k not in fields}
    if data is not None:
        experiment["data_dir"] = str(Path(data).resolve())
    if own:
        known = set().union(*(declared_parameters(root / s.source) for s in stages if (root / s.source).is_file()))
        unknown = sorted(set(own) - known)
        if unknown:
            raise ValueError(
                f"--set: no notebook declares {unknown}, and they are not settings of the experiment. "
                f"Experiment settings (CompareConfig fields): {', '.join(sorted(fields))}. "
                f"Chapters' own parameters: {', '.join(sorted(known - {'profile', 'overrides'}))}"
            )
    if experiment and profile in EXPERIMENT_PROFILES:
        try:
            profile_config(profile, experiment)
        except ValueError as e:
            raise ValueError(f"--set: {e}") from None
    return experiment, own


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def reproduce(
    profile: str = "cpu",
    *,
    only: Sequence[str] | None = None,
    force: bool = False,
    out: str | os.PathLike = "book",
    data: str | os.PathLike | None = None,
    settings: Mapping[str, Any] | None = None,
    project_root: str | os.PathLike = ".",
    stages: Sequence[Stage] = STAGES,
    profiles: Mapping[str, Profile] = PROFILES,
    build: bool = True,
    strict: bool = False,
    log_output: bool = True,
    timeout: float | None = None,
    log: Callable[[str], None] = print,
) -> list[StageResult]:
    """Execute the book's notebooks for ``profile`` and build the site; returns one
    :class:`StageResult` per registered stage.

    ``only``: stage names to consider (the others are neither run nor checked; upstream
    stages that are not up to date are reported). ``force``: re-run even when cached.
    ``out``: folder of the executed notebooks (relative to ``project_root`` unless absolute);
    the site is built only when it is the project's ``book/`` (the folder ``_toc.yml`` reads).
    ``data``: the experiment's ``data_dir``; ``settings`` (``--set``): fields of
    ``CompareConfig`` (passed in every notebook's ``overrides``, checked against the profile)
    or parameters a notebook declares (overriding everything else); any other key is an
    error. ``build``: run
    ``jupyter-book build`` at the end (``strict``: warnings are errors). Raises
    :class:`StageError` on the first failing notebook, :class:`BuildError` if the build fails."""
    root = Path(project_root).resolve()
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(profiles)}")
    prof = profiles[profile]
    check_registry(stages, profiles)
    names = [s.name for s in stages]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ValueError(f"--only: unknown notebook(s) {unknown}; registered: {', '.join(names)}")
    out_dir = Path(out) if Path(out).is_absolute() else root / out
    cache_dir = out_dir / ".cache"
    experiment, own = _split_settings(root, stages, profile, settings or {}, data)
    overrides = {"overrides": experiment} if experiment else {}
    lib = library_hash()
    keys: dict[str, str] = {}
    results: list[StageResult] = []
    t_all = time.perf_counter()
    log(f"[reproduce] profile {profile}: {prof.description}")
    for i, stage in enumerate(stages, 1):
        src = root / stage.source
        tag = f"[reproduce] ({i}/{len(stages)}) {stage.name}"
        upstream = [keys[d] for d in stage.depends]
        record_path = cache_dir / f"{stage.name}.json"
        if not src.is_file():
            keys[stage.name] = stage_key(None, {}, profile, lib, upstream)
            log(f"{tag}: {stage.source} does not exist yet: skipped")
            results.append(StageResult(stage.name, "missing"))
            continue
        params = resolve_parameters(stage, prof, declared_parameters(src), overrides, own)
        unit = stage_unit(record_path, src, params, profile, lib, upstream)
        key = keys[stage.name] = unit.key
        final = out_dir / f"{stage.name}.ipynb"
        if only and stage.name not in only:
            results.append(StageResult(stage.name, "not-selected", key=key))
            continue
        stale_up = [
            d
            for d in stage.depends
            if (read_record(cache_dir / f"{d}.json") or {}).get("key") != keys[d]
            and (root / next(s for s in stages if s.name == d).source).is_file()
        ]
        if stale_up:
            log(
                f"{tag}: warning: upstream {', '.join(stale_up)} not up to date for profile {profile} "
                "(run without --only to refresh)"
            )
        if not force and differences(unit) == [] and final.is_file():
            record = read_record(record_path) or {}
            log(
                f"{tag}: up to date (key {key}, ran {_fmt_s(record.get('seconds', 0.0))} on {record.get('finished', '?')}): skipped"
            )
            stale = out_dir / f"{stage.name}.failed.ipynb"
            if stale.exists():  # from a run with other inputs; the good copy is current
                stale.unlink()
                log(f"{tag}: removed the stale {stale.name}")
            results.append(StageResult(stage.name, "cached", key=key, output=final))
            continue
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        log(f"{tag}: running ({shown})")
        t0 = time.perf_counter()
        try:
            execute_stage(stage.name, src, out_dir, params, project_root=root, log_output=log_output, timeout=timeout)
        except StageError:
            log(f"{tag}: FAILED after {_fmt_s(time.perf_counter() - t0)}")
            raise
        dt = time.perf_counter() - t0
        write_record(unit, seconds=round(dt, 2), finished=time.strftime("%Y-%m-%d %H:%M:%S"), notebook=stage.source)
        log(f"{tag}: done in {_fmt_s(dt)} -> {final.relative_to(root) if final.is_relative_to(root) else final}")
        results.append(StageResult(stage.name, "executed", dt, key, final))

    missing_pages = write_placeholders(stages, out_dir, root)
    if missing_pages:
        log(f"[reproduce] placeholder pages for: {', '.join(missing_pages)}")
    log(f"[reproduce] notebooks: {_fmt_s(time.perf_counter() - t_all)}")
    if build and out_dir.resolve() != (root / "book").resolve():
        log(f"[reproduce] site not built: _toc.yml reads book/, and the notebooks went to {out_dir}")
    elif build:
        t0 = time.perf_counter()
        html = build_site(root, out_dir, strict=strict, log=log)
        log(f"[reproduce] site built in {_fmt_s(time.perf_counter() - t0)}: {html / 'index.html'}")
    return results


# ---------------------------------------------------------------------------------- build
def build_site(
    project_root: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    strict: bool = False,
    all_pages: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """``jupyter-book build`` of ``project_root`` (its ``_config.yml``/``_toc.yml``) into
    ``out_dir/_build/html`` (default ``project_root/book``); returns the html folder.
    ``strict``: Sphinx warnings are errors; warnings about glue references (a number of
    the prose missing from its notebook) always are. :class:`BuildError` with the warnings and the end
    of the output when the build fails or writes no ``index.html``."""
    root = Path(project_root).resolve()
    out = Path(out_dir).resolve() if out_dir is not None else root / "book"
    for f in ("_config.yml", "_toc.yml"):
        if not (root / f).is_file():
            raise BuildError(f"{root / f} not found: jupyter-book needs _config.yml and _toc.yml at the project root")
    cmd = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(root),
        "--path-output",
        str(out),
    ]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    if all_pages:
        cmd += ["--all"]
    log(f"[reproduce] jupyter-book build {root.name} -> {out / '_build' / 'html'}")
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # Sphinx colours warnings
    warnings = [ln for ln in output.splitlines() if "WARNING" in ln or "ERROR" in ln]
    html = out / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        detail = "\n".join(warnings[-20:]) or output[-4000:]
        raise BuildError(f"jupyter-book build failed (exit {proc.returncode}):\n{detail}")
    for w in warnings:
        log(f"[reproduce] build {w.strip()}")
    missing_glue = [w for w in warnings if "glue" in w.lower()]
    if missing_glue:  # a number of the prose would silently be missing from the page
        raise BuildError(
            "the prose refers to glued values the executed notebooks do not have:\n" + "\n".join(missing_glue)
        )
    return html
