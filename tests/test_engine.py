"""The training engine's GPU-path promises, checked on the CPU.

* Resume must not depend on the device the checkpoint is read onto: the first GPU run
  crashed because the checkpoint was loaded with ``map_location=<cuda>`` and torch only
  takes CPU tensors as RNG states.
* ``--compile`` never takes a run down: a failing compiler falls back to eager mode with
  one warning naming the torch version, and the run is the eager run.
* Nothing per step waits for the device: metrics stay tensors until a log line, and a
  non-finite loss is still reported at the step where it appeared.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from test_pretrain import _params, make_cfg

from tbe_lib.pretrain import pretrain
from tbe_lib.train import LoopConfig, RunDir, TrainingDiverged
from tbe_lib.train.engine import CompileFallbackWarning, Trainer, is_compiler_error
from tbe_lib.train.state import capture_rng, restore_rng
from tbe_lib.utils import device_generator, safe_load

_REAL_COMPILE = torch.compile  # the tests below patch torch.compile


def _tiny_trainer(run_dir, device: torch.device, steps: int = 4) -> Trainer:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    return Trainer(
        module,
        opt,
        None,
        RunDir(run_dir),
        LoopConfig(steps=steps, amp="off", progress="off", log_every=1),
        device=device,
        meta={"task": "test"},
        generators={"augment": gen},
    )


def _linear_step(model, batch, step):
    x = batch
    return model(x).pow(2).mean(), {"mean": x.mean()}, x.shape[0]


def _batches(gen_seed: int = 0):
    def batches(start):
        g = torch.Generator().manual_seed(gen_seed + start)
        while True:
            yield torch.randn(8, 4, generator=g)

    return batches


def test_resume_reads_the_checkpoint_on_the_cpu_whatever_the_run_device(tmp_path):
    """A trainer whose device is CUDA (on a machine without one) must still resume: reading
    the file onto the run's device is the bug class that crashed resume on every GPU (RNG
    states on the GPU). Here torch.load(map_location='cuda') itself would fail."""
    t = _tiny_trainer(tmp_path / "r", torch.device("cpu"))
    t.fit(_batches(), _linear_step)
    saved = {k: v.clone() for k, v in t.module.state_dict().items()}
    gen_state = t.generators["augment"].get_state()

    other = _tiny_trainer(tmp_path / "r", torch.device("cuda"))  # only the recorded device differs
    assert other.amp_dtype is None
    step = other.resume()
    assert step == 4
    for k, v in other.module.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert torch.equal(other.generators["augment"].get_state(), gen_state)
    assert other.optimizer.state_dict()["state"][0]["momentum_buffer"].device.type == "cpu"


def test_restore_rng_takes_states_from_any_map_location(tmp_path, monkeypatch):
    """States loaded through a map_location callable arrive wherever it puts them;
    restore_rng copies them to the CPU before torch sees them (torch refuses others)."""
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(5)
    torch.save(capture_rng({"g": gen}), tmp_path / "rng.pt")
    seen = []

    def record(storage, location):  # what torch.load hands each storage to
        seen.append(location)
        return storage

    loaded = torch.load(tmp_path / "rng.pt", map_location=record, weights_only=True)
    assert seen and all(loc == "cpu" for loc in seen)  # states are saved as CPU tensors
    expected = (torch.rand(3, generator=gen), torch.rand(3))
    torch.manual_seed(99)
    gen.manual_seed(99)
    devices = []
    real_set = torch.set_rng_state
    monkeypatch.setattr(torch, "set_rng_state", lambda t: (devices.append(t.device.type), real_set(t)))
    restore_rng(loaded, {"g": gen})
    assert devices == ["cpu"]
    assert torch.equal(torch.rand(3, generator=gen), expected[0]) and torch.equal(torch.rand(3), expected[1])


def _failing_compile(model, **kw):
    """torch.compile with a backend that fails like inductor's pattern-matcher crash did."""

    def backend(gm, example_inputs):
        raise RuntimeError("Not all inputs to pattern found in match.kwargs (simulated)")

    return _REAL_COMPILE(model, backend=backend)


def test_a_failing_compiler_falls_back_to_eager_with_one_warning(tmp_path, smoke_bench, monkeypatch):
    from tbe_lib.train import engine

    eager = pretrain(make_cfg(tmp_path / "eager", smoke_bench, "be", steps=3))
    monkeypatch.setattr(engine.torch, "compile", _failing_compile)
    cfg = make_cfg(tmp_path / "compiled", smoke_bench, "be", steps=3, loop_kw={"compile": True})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pretrain(cfg)
    fallbacks = [w for w in caught if issubclass(w.category, CompileFallbackWarning)]
    assert len(fallbacks) == 1, [str(w.message) for w in caught]
    msg = str(fallbacks[0].message)
    assert torch.__version__ in msg and "eager" in msg and "Not all inputs to pattern" in msg
    # The fallback restored the state the failed attempt touched: the run is the eager run.
    a, b = _params(eager.method), _params(res.method)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert res.step == 3 and (res.run_dir / "encoder.pt").exists()


def test_errors_of_the_model_itself_are_not_taken_for_compiler_errors():
    try:
        torch.zeros(2, 3) @ torch.zeros(2, 3)
    except RuntimeError as e:
        assert not is_compiler_error(e)
    try:
        torch.compile(lambda x: x * 2 + 1, backend=lambda gm, ex: (_ for _ in ()).throw(RuntimeError("boom")))(
            torch.ones(2)
        )
    except Exception as e:
        assert is_compiler_error(e)
    else:  # pragma: no cover
        pytest.fail("the failing backend did not raise")


def test_metrics_stay_on_the_device_until_logged(smoke_bench):
    """Methods return 0-dim tensors (no float() per step); the engine logs their means."""
    from tbe_lib.methods import MethodConfig, build_method

    m = build_method("r3d_tiny", MethodConfig(method="be", queue_size=16))
    views = [torch.randn(4, 3, 4, 16, 16) for _ in range(2)]
    loss, metrics = m(views, torch.Generator().manual_seed(0))
    assert set(metrics) == {"p_pos", "acc"}
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in metrics.values())


@pytest.mark.parametrize("log_every", [1, 10])
def test_a_nan_loss_is_named_at_its_step_even_between_log_lines(tmp_path, smoke_bench, monkeypatch, log_every):
    """The finiteness check is read at log lines and before checkpoints only; it still names
    the first bad step and never writes a checkpoint after it."""
    from tbe_lib import methods

    real = methods.BEMethod.forward
    calls = {"n": 0}

    def poisoned(self, views, generator=None):
        loss, m = real(self, views, generator)
        calls["n"] += 1
        return (loss * float("inf") if calls["n"] == 3 else loss), m

    monkeypatch.setattr(methods.BEMethod, "forward", poisoned)
    cfg = make_cfg(
        tmp_path / "nan", smoke_bench, "be", steps=8, loop_kw={"checkpoint_every": 2, "log_every": log_every}
    )
    with pytest.raises(TrainingDiverged, match="at step 3"):
        pretrain(cfg)
    ck = safe_load(tmp_path / "nan" / "checkpoints" / "last.pt")
    assert ck["step"] == 2


def test_device_generator_is_on_the_cpu_for_cpu_runs():
    g = device_generator(7, "cpu")
    assert g.device.type == "cpu" and g.initial_seed() == 7
    assert device_generator(7, torch.device("cpu")).get_state().equal(g.get_state())
