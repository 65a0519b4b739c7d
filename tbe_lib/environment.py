"""What a run's numbers depend on, beyond its configuration: the machine and the math libraries.

Two runs of the same commit and configuration are bit-identical on the same machine and
software; across processors (instruction sets select other kernels, which round differently)
and GPUs they drift, and training amplifies the drift. :func:`numerics_environment` records
what decides which kernels run, so that a difference can be traced to its cause; every run
writes it into ``RUN/environment.json``.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

import torch

__all__ = ["numerics_environment", "run_environment", "cpu_model", "cpu_flags"]

#: Instruction-set extensions that change which CPU kernels run (and how they round).
ISA_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` says)."""
    m = re.search(r"^model name\s*:\s*(.+)$", _cpuinfo(), re.M)
    return m.group(1).strip() if m else (platform.processor() or platform.machine() or "unknown")


def cpu_flags() -> list[str]:
    """The instruction-set extensions of :data:`ISA_FLAGS` this processor has (Linux; [] elsewhere)."""
    m = re.search(r"^(flags|Features)\s*:\s*(.+)$", _cpuinfo(), re.M)
    have = set(m.group(2).split()) if m else set()
    return [f for f in ISA_FLAGS if f in have]


def _library_versions() -> dict[str, str]:
    """oneDNN, MKL and the BLAS torch and NumPy use, with their versions where they say."""
    out: dict[str, str] = {}
    show = torch.__config__.show()
    for key, pattern in (
        ("mkl", r"Math Kernel Library Version ([^\s]+)"),
        ("onednn", r"MKL-DNN v([^\s]+)"),
        ("torch_blas", r"BLAS_INFO=([^,\s]+)"),
        ("torch_lapack", r"LAPACK_INFO=([^,\s]+)"),
    ):
        m = re.search(pattern, show)
        if m:
            out[key] = m.group(1)
    try:  # what NumPy and scikit-learn (the probes) run on
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            out[f"{info.get('user_api')}:{info.get('internal_api')}"] = (
                f"{info.get('version')} ({info.get('num_threads')} threads, {info.get('architecture', '?')})"
            )
    except Exception:  # threadpoolctl missing or failing: not a reason to stop a run
        pass
    return out


def numerics_environment(device: torch.device | str | None = None) -> dict[str, Any]:
    """The machine and library facts a run's numbers depend on (JSON-ready).

    Processor model and instruction sets (and torch's CPU dispatch level), torch's parallel
    backend and thread count, oneDNN / MKL / BLAS versions, CUDA / cuDNN and the GPU when one
    is used, and the settings that make kernels deterministic or not."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    parallel = torch.__config__.parallel_info()
    backend = re.search(r"ATen parallel backend:\s*(.+)", parallel)
    env: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_isa": cpu_flags(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "parallel_backend": backend.group(1).strip() if backend else None,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "libraries": _library_versions(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "env": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "CUBLAS_WORKSPACE_CONFIG",
                "ATEN_CPU_CAPABILITY",
            )
            if k in os.environ
        },
    }
    if device.type == "cuda" and torch.cuda.is_available():
        idx = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        env["cuda"] = {
            "gpu": props.name,
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        }
    return env


def run_environment(device: torch.device | str = "cpu") -> dict[str, Any]:
    """What ``RUN/environment.json`` records about the software and the machine (the run adds
    its command line, commit, world size and start time): versions, device, threads, and
    :func:`numerics_environment`."""
    import tbe_lib

    device = torch.device(device)
    return {
        "tbe_lib": tbe_lib.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "numerics": numerics_environment(device),  # processor, instruction sets, math libraries, GPU
    }
