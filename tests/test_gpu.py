"""GPU-only checks (skipped without CUDA; ``make gpu-check`` runs them on a lent GPU).

* BE and a whole MoCo/BE step never synchronise with the host
  (``torch.cuda.set_sync_debug_mode("error")`` turns any sync into an error);
* resume on CUDA continues the run bit for bit with deterministic kernels (r3d_tiny, whose
  layers all have deterministic CUDA kernels).
"""

from __future__ import annotations

import pytest
import torch
from test_pretrain import make_cfg

from tbe_lib.augment import background_erasing
from tbe_lib.methods import MethodConfig, build_method
from tbe_lib.pretrain import pretrain
from tbe_lib.utils import device_generator, safe_load

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (make gpu-check)")


class _NoSync:
    def __enter__(self):
        torch.cuda.synchronize()
        self.mode = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")

    def __exit__(self, *exc):
        torch.cuda.set_sync_debug_mode(self.mode)


def test_background_erasing_never_syncs_with_the_host():
    x = torch.rand(8, 3, 16, 112, 112, device="cuda")
    g = device_generator(0, "cuda")
    background_erasing(x, generator=g)  # warm-up (allocations, kernels)
    with _NoSync():
        for kw in ({}, {"lam_per_clip": True}, {"source": "inter"}):
            y = background_erasing(x, generator=g, **kw)
    torch.cuda.synchronize()
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("method, extra", [("moco", False), ("be", True)])
def test_a_contrastive_step_never_syncs_with_the_host(method, extra):
    torch.manual_seed(0)
    m = build_method("r3d_tiny", MethodConfig(method=method, queue_size=64, extra_negative=extra)).cuda()
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    g = device_generator(0, "cuda")
    views = [torch.randn(8, 3, 8, 32, 32, device="cuda") for _ in range(3 if extra else 2)]

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss, metrics = m(views, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        m.after_step()
        return loss, metrics

    step()  # warm-up: optimiser state, cuDNN plans
    with _NoSync():
        loss, metrics = step()
    assert torch.isfinite(loss) and 0 <= float(metrics["p_pos"]) <= 1


def test_resume_on_cuda_is_bit_for_bit(tmp_path, smoke_bench, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    def cfg(run, **loop):
        c = make_cfg(
            tmp_path / run,
            smoke_bench,
            "be",
            steps=6,
            method_kw={"extra_negative": True},
            loop_kw={"deterministic": True, "amp": "bf16", **loop},
        )
        c.device = "cuda"
        return c

    full = pretrain(cfg("full"))
    part = cfg("split", stop_after=3)
    pretrain(part)
    part.loop.stop_after = None
    resumed = pretrain(part, resume=True)
    a = safe_load(full.run_dir / "encoder.pt")["state_dict"]
    b = safe_load(resumed.run_dir / "encoder.pt")["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume on CUDA"
