"""A pretraining method is one registered class: registering it makes it known to the
settings, the command line, the comparison's rows and the book's labels, with nothing else
to edit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tbe_lib.methods import METHODS, MethodConfig, build_method, get_method, register_method
from tbe_lib.methods import base as registry
from tbe_lib.methods.moco import MoCoMethod


@pytest.fixture
def toy_method():
    """A method defined the way a contributor would, in a file of its own; removed afterwards."""

    @register_method("toy", label="Toy (test)", variants={"toy_big": ("Toy, big α", {"be_alpha": 0.6})})
    class Toy(MoCoMethod):  # MoCo whose query is the time-reversed anchor
        negative_view = "other_time"

        def make_query(self, anchor, generator):
            return anchor.flip(2)

    yield Toy
    for name in ("toy", "toy_big"):
        registry._REGISTRY.pop(name, None)
        registry._ROWS.pop(name, None)


def test_the_built_in_methods_are_registered_with_their_views():
    assert list(METHODS)[:4] == ["moco", "be", "be_triplet", "pretext"]  # the paper's, first
    assert MethodConfig(method="be", extra_negative=True).views == ("anchor", "same_frames", "other_time")
    assert MethodConfig(method="moco", extra_negative=True).views == ("anchor", "same_frames", "other_video")
    assert MethodConfig(method="be_triplet").views == ("anchor", "same_frames", "other_time")
    assert MethodConfig(method="pretext").views == ("anchor",)
    with pytest.raises(ValueError, match="unknown method 'nope'; choose one of moco, be"):
        MethodConfig(method="nope")


def test_a_registered_method_reaches_the_cli_the_comparison_and_the_book(toy_method):
    from tbe_lib.cli import build_parser
    from tbe_lib.experiment import ROW_LABELS, SSL_ROWS, CompareConfig, all_rows, pretrain_config

    cfg = MethodConfig(method="toy", extra_negative=True)
    assert cfg.views == ("anchor", "same_frames", "other_time")
    m = build_method("r3d_tiny", cfg)
    assert isinstance(m, toy_method) and get_method("toy").label == "Toy (test)"
    views = [torch.randn(4, 3, 4, 16, 16) for _ in range(3)]
    loss, metrics = m(views, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and set(metrics) == {"p_pos", "acc"}
    assert isinstance(m.encoder, nn.Module)

    args = build_parser().parse_args(["pretrain", "--method", "toy"])
    assert args.method == "toy"

    assert "toy" in SSL_ROWS and "toy_big" in SSL_ROWS and "toy" in all_rows()
    assert ROW_LABELS["toy"] == "Toy (test)" and ROW_LABELS["toy_big"] == "Toy, big α"
    cc = CompareConfig(rows=("random", "toy", "toy_big"))
    assert cc.ssl_rows == ("toy", "toy_big")
    pc = pretrain_config(cc, "static", 0, "toy_big")
    assert pc.method.method == "toy" and pc.method.be_alpha == 0.6
    assert pretrain_config(cc, "static", 0, "toy").method.be_alpha == 0.3


def test_a_name_cannot_be_registered_twice(toy_method):
    with pytest.raises(ValueError, match="already registered"):
        register_method("toy")(type("Other", (MoCoMethod,), {}))
