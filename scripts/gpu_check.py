"""The one-command GPU check: ``make gpu-check`` (or ``bash scripts/gpu_check.sh``).

On a machine with a GPU and no network it runs, in this order, and prints one table:

1. the CUDA tests (``tests/test_gpu.py`` and the files with CUDA cases);
2. the BE bench at 16x224² and 16x112² (target: BE <= 1.5x a clone at 224);
3. the pretraining-step bench, r3d_18 at 16x112² batch 32 and i3d at 16x224² batch 16, bf16
   (target: the BE step <= 1.45x the bare forward+backward);
4. the embedded benchmark (``tbe data synth``), then a paper-size run on it (i3d at 224,
   bf16, 16 frames, BE with the intra-video negative): pretrain -> stop -> resume, compared
   with an uninterrupted run and with a second uninterrupted run (what nondeterministic GPU
   kernels alone change), then finetune -> retrieve from the resumed encoder;
5. ``--compile`` (r3d_18, 112², bf16): compiled, or the eager fallback's warning;
6. end-to-end ``tbe pretrain`` clips/s against the step-only bench at the same settings
   (target >= 0.9x), with ``--workers`` loader processes;
7. DDP over NCCL with ``torchrun`` when there are >= 2 GPUs (replicas identical).

The table goes to stdout and, as Markdown and JSON, to ``--out`` (default
``bench/results/gpu_check.{md,json}``). ``--quick`` runs the same steps at toy sizes on any
device (the CPU included): the test suite runs it so that this script cannot rot unseen.

It needs the project's Python dependencies but no ``make setup``: run it with the machine's
own torch from the repository root (``PYTHONPATH=.``); ``scripts/gpu_check.sh`` installs
PyAV (and any other missing wheel) from ``.whl/`` first, see the README's "GPU check".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUDA_TEST_FILES = [
    "tests/test_gpu.py",
    "tests/test_video_augment.py",
    "tests/test_background_erasing.py",
    "tests/test_moco.py",
    "tests/test_evaluate.py",
    "tests/test_engine.py",
]


@dataclass
class Row:
    """One line of the table."""

    check: str
    result: str
    target: str = ""
    ok: bool | None = None  # None: informational
    seconds: float = 0.0
    data: dict = field(default_factory=dict)


@dataclass
class Sizes:
    """The settings of each step; ``quick`` shrinks them to toy sizes."""

    backbone: str = "i3d"
    size: int = 224
    frames: int = 16
    batch: int = 16
    steps: int = 16  # per half of the stop/resume run
    synth: str = "default"
    bench_small: tuple[str, int, int, int] = ("r3d_18", 32, 16, 112)  # backbone, batch, frames, size
    bench_large: tuple[str, int, int, int] = ("i3d", 16, 16, 224)
    be_sizes: tuple[int, ...] = (224, 112)
    compile_backbone: str = "r3d_18"
    compile_size: int = 112
    e2e_steps: int = 60
    repeats: int = 15

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(
            backbone="r3d_tiny",
            size=32,
            frames=4,
            batch=8,
            steps=2,
            synth="smoke",
            bench_small=("r3d_tiny", 8, 4, 32),
            bench_large=("r3d_tiny", 8, 4, 48),
            be_sizes=(32,),
            compile_backbone="r3d_tiny",
            compile_size=32,
            e2e_steps=6,
            repeats=3,
        )


def _run(cmd: list[str], env: dict[str, str], timeout: float, log: Path) -> tuple[int, str, float]:
    """Run ``cmd``; its output goes to ``log`` (appended) and is returned."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        rc, text = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as e:
        rc, text = 124, f"timed out after {timeout:.0f} s\n{e.stdout or ''}{e.stderr or ''}"
    dt = time.perf_counter() - t0
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n[rc={rc}, {dt:.1f} s]\n{text}")
    return rc, text, dt


def _argv(*parts: str | Path) -> list[str]:
    """Command-line words: strings are split on spaces, paths kept whole (they may hold spaces)."""
    return [w for p in parts for w in ([str(p)] if isinstance(p, Path) else str(p).split())]


def _tail(text: str, n: int = 1) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:])[:200] if lines else ""


class Check:
    """Runs the steps, collecting :class:`Row` s."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        self.args = args
        self.sizes = Sizes.quick() if args.quick else Sizes()
        self.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.gpus = torch.cuda.device_count() if self.device == "cuda" else 0
        self.work = Path(args.work or tempfile.mkdtemp(prefix="tbe_gpu_check_"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = self.work / "gpu_check.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1",
            "TBE_PROGRESS": "log",
            # deterministic cuBLAS (needed for bit-exact comparisons under use_deterministic_algorithms)
            "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        }
        self.rows: list[Row] = []
        self.amp = "bf16" if self.device == "cuda" else "off"
        self.workers = args.workers if args.workers is not None else max(1, min(12, (os.cpu_count() or 2) - 2))

    def tbe(self, *argv: str, timeout: float = 600) -> tuple[int, str, float]:
        return _run([sys.executable, "-m", "tbe_lib.cli", *argv], self.env, timeout, self.log)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        mark = {True: "ok", False: "MISSED", None: "--"}[row.ok]
        print(f"[gpu-check] {row.check}: {row.result} ({mark}, {row.seconds:.0f} s)", flush=True)

    # ------------------------------------------------------------------ steps
    def info(self) -> None:
        import torch

        try:
            import av

            av_version = av.__version__
        except ImportError:
            av_version = "missing (see scripts/gpu_check.sh: install it from .whl/)"
        name = torch.cuda.get_device_name(0) if self.device == "cuda" else (platform.processor() or "cpu")
        cuda = torch.version.cuda if self.device == "cuda" else "-"
        self.add(
            Row(
                "machine",
                f"{name}; torch {torch.__version__} (CUDA {cuda}); PyAV {av_version}; "
                f"{os.cpu_count()} CPUs; {self.gpus} GPU(s)",
                data={
                    "device_name": name,
                    "torch": torch.__version__,
                    "cuda": cuda,
                    "av": av_version,
                    "gpus": self.gpus,
                    "cpus": os.cpu_count(),
                },
            )
        )

    def tests(self) -> None:
        files = [f for f in CUDA_TEST_FILES if (ROOT / f).exists()]
        rc, out, dt = _run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files], self.env, 600, self.log
        )
        summary = next((x for x in reversed(out.splitlines()) if re.search(r"\d+ (passed|failed)", x)), _tail(out))
        self.add(Row("CUDA tests", summary.strip("= "), "all pass", rc == 0, dt))

    def bench_be(self) -> None:
        for size in self.sizes.be_sizes:
            js = self.work / f"be_{size}.json"
            rc, out, dt = _run(
                [sys.executable, "bench/bench_be.py", "--device", self.device, "--size", str(size), "--json", str(js)],
                self.env,
                300,
                self.log,
            )
            if rc != 0:
                self.add(Row(f"BE bench 16x{size}²", f"failed: {_tail(out)}", "<= 1.5x clone", False, dt))
                continue
            r = json.loads(js.read_text())
            ratio, ms = r["ratios"]["BE / clone"], r["median_ms"]
            target = size >= 224 and self.device == "cuda"
            self.add(
                Row(
                    f"BE bench 16x{size}²",
                    f"BE {ms['BE out-of-place, λ per batch']:.3f} ms = {ratio:.2f}x a "
                    f"clone; the paper's loop {r['ratios']['loop / BE (speed-up)']:.0f}x slower",
                    "<= 1.5x clone" if target else "",
                    (ratio <= 1.5) if target else None,
                    dt,
                    r,
                )
            )

    def bench_step(self) -> dict[str, float]:
        """Step-only clips/s of the BE step per bench setting (for the end-to-end ratio)."""
        clips_s: dict[str, float] = {}
        for backbone, batch, frames, size in (self.sizes.bench_small, self.sizes.bench_large):
            js = self.work / f"step_{backbone}_{size}.json"
            rc, out, dt = _run(
                [sys.executable, "bench/bench_pretrain.py", *_argv(
                    f"--backbone {backbone} --batch {batch} --frames {frames} --size {size} --device {self.device}",
                    f"--amp {self.amp} --methods moco be be/bn1 --repeats {self.sizes.repeats} --profile be --json", js)],
                self.env, 600, self.log,
            )  # fmt: skip
            name = f"step bench {backbone} {frames}x{size}² b{batch}"
            if rc != 0:
                self.add(Row(name, f"failed: {_tail(out)}", "be <= 1.45x bare", False, dt))
                continue
            r = json.loads(js.read_text())
            ms, ratio = r["median_ms"], r["ratio_to_bare"]
            clips_s[f"{backbone}_{size}"] = batch / ms["be"] * 1e3
            self.add(
                Row(
                    name,
                    f"bare {ms['bare']:.1f} ms; moco {ratio['moco']:.2f}x, be {ratio['be']:.2f}x bare "
                    f"(without shuffling BN {ratio['be/bn1']:.2f}x); be {batch / ms['be'] * 1e3:.0f} clips/s",
                    "be <= 1.45x bare",
                    (ratio["be"] <= 1.45) if self.device == "cuda" else None,
                    dt,
                    r,
                )
            )
        return clips_s

    def synth(self) -> Path:
        data = self.work / "synth"
        rc, out, dt = self.tbe(
            *_argv("data synth --out", data, f"--size {self.sizes.synth} --no-progress --workers {os.cpu_count() or 2}")
        )
        self.add(Row("embedded benchmark", "rendered" if rc == 0 else f"failed: {_tail(out)}", "", rc == 0 or None, dt))
        if rc != 0:
            raise SystemExit(f"gpu-check: tbe data synth failed; see {self.log}")
        return data

    def _pretrain_args(self, data: Path, run: Path, steps: int, *extra: str) -> list[str]:
        s = self.sizes
        return _argv(
            "pretrain --method be --extra-negative --data", data, "--run-dir", run,
            f"--backbone {s.backbone} --size {s.size} --frames {s.frames} --batch-size {s.batch} --queue-size 256",
            f"--steps {steps} --amp {self.amp} --device {self.device} --workers {self.workers} --log-every 1",
            "--checkpoint-every 0 --progress log --deterministic", *extra,
        )  # fmt: skip

    def paper_size_run(self, data: Path) -> Path | None:
        from tbe_lib.utils import safe_load

        s, n = self.sizes, self.sizes.steps
        full, again, split = self.work / "pt_full", self.work / "pt_again", self.work / "pt_split"
        name = f"{s.backbone} {s.frames}x{s.size}² {self.amp}: pretrain, stop at {n}, resume to {2 * n}"
        t0 = time.perf_counter()
        outs = [
            self.tbe(*self._pretrain_args(data, full, 2 * n)),
            self.tbe(*self._pretrain_args(data, again, 2 * n)),
            self.tbe(*self._pretrain_args(data, split, 2 * n, "--stop-after", str(n))),
            self.tbe(*self._pretrain_args(data, split, 2 * n, "--resume")),
        ]
        dt = time.perf_counter() - t0
        bad = [o for o in outs if o[0] != 0]
        if bad:
            self.add(Row(name, f"failed: {_tail(bad[0][1], 2)}", "resumes", False, dt))
            return None

        def diff(a: Path, b: Path) -> float:
            x, y = safe_load(a / "encoder.pt")["state_dict"], safe_load(b / "encoder.pt")["state_dict"]
            return max(float((x[k].double() - y[k].double()).abs().max()) if x[k].numel() else 0.0 for k in x)

        d_resume, d_rerun = diff(full, split), diff(full, again)
        exact = d_resume == 0.0
        result = (
            "resumed = uninterrupted bit for bit"
            if exact
            else f"max |resumed - uninterrupted| {d_resume:.2e}; two uninterrupted runs differ by {d_rerun:.2e}"
        )
        # Resume is right when it is exact, or differs no more than nondeterministic kernels make reruns differ.
        ok = exact or d_resume <= 10 * max(d_rerun, 1e-12)
        self.add(Row(name, result, "resume = rerun", ok, dt, {"resume_vs_full": d_resume, "rerun_vs_full": d_rerun}))
        return split

    def finetune_retrieve(self, data: Path, pre: Path) -> None:
        s = self.sizes
        ft = self.work / "ft"
        rc, out, dt = self.tbe(
            *_argv("finetune --init", pre / "encoder.pt", "--data", data, "--run-dir", ft,
                   f"--backbone {s.backbone} --test-splits test_shift --epochs 1 --batch-size {s.batch}",
                   f"--frames {s.frames} --size {s.size} --test-clips 1 --optimizer adamw --lr 1e-3 --amp {self.amp}",
                   f"--device {self.device} --workers {self.workers} --progress log")
        )  # fmt: skip
        self.add(
            Row(
                "finetune from the resumed encoder (1 epoch)",
                _tail(out) if rc != 0 else next((x.strip() for x in out.splitlines() if "test_shift" in x), "done"),
                "runs",
                rc == 0,
                dt,
            )
        )
        rt = self.work / "rt"
        rc, out, dt = self.tbe(
            *_argv("retrieve --checkpoint", pre / "encoder.pt", "--data", data, "--out", rt,
                   f"--backbone {s.backbone} --query-splits test_shift --frames {s.frames} --size {s.size}",
                   f"--num-clips 1 --device {self.device} --workers {self.workers}")
        )  # fmt: skip
        self.add(
            Row(
                "retrieve from the resumed encoder", "done" if rc == 0 else f"failed: {_tail(out)}", "runs", rc == 0, dt
            )
        )

    def compile_run(self, data: Path) -> None:
        s = self.sizes
        run = self.work / "pt_compile"
        rc, out, dt = self.tbe(
            *_argv("pretrain --method be --data", data, "--run-dir", run,
                   f"--backbone {s.compile_backbone} --size {s.compile_size} --frames {s.frames} --batch-size {s.batch}",
                   f"--queue-size 256 --steps {2 * s.steps + 4} --amp {self.amp} --device {self.device}",
                   f"--workers {self.workers} --compile --log-every 1 --progress log")
        )  # fmt: skip
        fell_back = "continuing without --compile" in out
        result = (
            ("failed: " + _tail(out, 2))
            if rc != 0
            else (
                "fell back to eager: "
                + next((x.strip() for x in out.splitlines() if "torch.compile failed" in x), "")[:160]
                if fell_back
                else "compiled and trained"
            )
        )
        self.add(
            Row(
                f"--compile ({s.compile_backbone} {s.compile_size}², {self.amp})",
                result,
                "no crash",
                rc == 0,
                dt,
                {"fell_back": fell_back},
            )
        )

    def end_to_end(self, data: Path, step_clips_s: dict[str, float]) -> None:
        s = self.sizes
        backbone, batch, frames, size = s.bench_large
        run = self.work / "pt_e2e"
        # The bench's BE step: 2 views (no extra negative), queue 4096, the same batch and clip size.
        rc, out, dt = self.tbe(
            *_argv("pretrain --method be --data", data, "--run-dir", run,
                   f"--backbone {backbone} --size {size} --frames {frames} --batch-size {batch} --queue-size 4096",
                   f"--steps {s.e2e_steps} --amp {self.amp} --device {self.device} --workers {self.workers}",
                   "--log-every 5 --checkpoint-every 0 --progress log")
        )  # fmt: skip
        name = f"end-to-end tbe pretrain, {backbone} {frames}x{size}² b{batch}, {self.workers} workers"
        if rc != 0:
            self.add(Row(name, f"failed: {_tail(out)}", ">= 0.9x step bench", False, dt))
            return
        from tbe_lib.train import read_metrics

        rows = read_metrics(run)
        steady = [r["clips_per_s"] for r in rows if r["step"] > s.e2e_steps // 3]
        e2e = statistics.median(steady) if steady else float("nan")
        ref = step_clips_s.get(f"{backbone}_{size}")
        ratio = e2e / ref if ref else float("nan")
        self.add(
            Row(
                name,
                f"{e2e:.0f} clips/s = {ratio:.2f}x the step-only bench ({ref or float('nan'):.0f} clips/s)",
                ">= 0.9x step bench",
                (ratio >= 0.9) if self.device == "cuda" and ref else None,
                dt,
                {"e2e_clips_s": e2e, "bench_clips_s": ref, "ratio": ratio},
            )
        )

    def ddp(self, data: Path) -> None:
        if self.gpus < 2:
            self.add(Row("DDP (NCCL)", f"skipped: {self.gpus} GPU(s)", "identical replicas"))
            return
        s = self.sizes
        run = self.work / "pt_ddp"
        rc, out, dt = _run(
            [sys.executable, "-m", "torch.distributed.run", *_argv(
                f"--nproc_per_node {min(self.gpus, 8)} -m tbe_lib.cli pretrain --method be --extra-negative --data", data,
                "--run-dir", run, f"--backbone r3d_18 --size 112 --frames {s.frames} --batch-size {s.batch} --steps 10",
                f"--amp {self.amp} --device cuda --workers 4 --log-every 1 --progress log")],
            self.env, 600, self.log,
        )  # fmt: skip
        rep = json.loads((run / "replicas.json").read_text()) if (run / "replicas.json").exists() else {}
        ok = rc == 0 and rep.get("max_abs_diff_sum") == 0.0
        self.add(
            Row(
                f"DDP (NCCL, {rep.get('world_size', '?')} processes)",
                f"replicas differ by {rep.get('max_abs_diff_sum')}" if rc == 0 else f"failed: {_tail(out)}",
                "identical replicas",
                ok,
                dt,
                rep,
            )
        )

    # ------------------------------------------------------------------ all
    def run(self) -> int:
        t0 = time.perf_counter()
        self.info()
        skip = set(self.args.skip)
        if "tests" not in skip:
            self.tests()
        if "bench" not in skip:
            self.bench_be()
        step_clips_s = self.bench_step() if "bench" not in skip else {}
        data = self.synth()
        pre = self.paper_size_run(data)
        if pre is not None:
            self.finetune_retrieve(data, pre)
        if "compile" not in skip:
            self.compile_run(data)
        if "e2e" not in skip:
            self.end_to_end(data, step_clips_s)
        self.ddp(data)
        total = time.perf_counter() - t0
        self.add(Row("total", f"{total / 60:.1f} min", "<= 8 min on one H100", None, total))
        self.report()
        if not self.args.keep:
            shutil.rmtree(self.work / "synth", ignore_errors=True)
        return 1 if any(r.ok is False for r in self.rows) else 0

    def report(self) -> None:
        lines = ["| check | result | target | status | s |", "|---|---|---|---|---|"]
        for r in self.rows:
            mark = {True: "ok", False: "**missed**", None: ""}[r.ok]
            lines.append(f"| {r.check} | {r.result.replace('|', '/')} | {r.target} | {mark} | {r.seconds:.0f} |")
        table = "\n".join(lines)
        print("\n" + table)
        out = Path(self.args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(table + "\n")
        out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in self.rows], indent=2, default=str) + "\n")
        shutil.copy(self.log, out.with_suffix(".log"))  # every command's output, profiles included
        print(f"\n[gpu-check] table: {out.with_suffix('.md')}; log: {out.with_suffix('.log')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="toy sizes (any device; what the test suite runs)")
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--workers", type=int, default=None, help="loader processes (default: CPUs - 2, at most 12)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["tests", "bench", "compile", "e2e"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "gpu_check"), help="table (.md) and .json stem")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the rendered benchmark in the scratch folder")
    return Check(ap.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
