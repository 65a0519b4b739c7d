"""Background Erasing: the formula, both λ modes, both static-frame sources, dtypes, errors."""

import pytest
import torch

from tbe_lib.augment import BackgroundErasing, background_erasing, sample_be_params


def reference_be(x, lam, index, donor=None):
    """The formula written out with loops (what the paper's code does), in float64."""
    B, C, T = x.shape[:3]
    donor = torch.arange(B) if donor is None else donor
    lam = torch.as_tensor(lam).double()
    out = torch.empty_like(x, dtype=torch.float64)
    for i in range(B):
        for j in range(T):
            out[i, :, j] = (1 - lam[i]) * x[i, :, j].double() + lam[i] * x[donor[i], :, index[i]].double()
    return out


@pytest.fixture
def clips():
    return torch.rand(4, 3, 6, 5, 7, generator=torch.Generator().manual_seed(0))


def test_formula_scalar_lam(clips):
    index = torch.tensor([0, 5, 2, 3])
    out = background_erasing(clips, lam=0.25, index=index)
    ref = reference_be(clips, torch.full((4,), 0.25), index)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-6)


def test_formula_per_clip_lam(clips):
    index = torch.tensor([1, 1, 4, 0])
    lam = torch.tensor([0.0, 0.1, 0.2, 0.29])
    out = background_erasing(clips, lam=lam, index=index)
    torch.testing.assert_close(out.double(), reference_be(clips, lam, index), rtol=1e-6, atol=1e-6)
    # lam = 0 leaves the clip as it is; the static frame itself is unchanged for any lam.
    torch.testing.assert_close(out[0], clips[0])
    for i in range(4):
        torch.testing.assert_close(out[i, :, index[i]], clips[i, :, index[i]])


def test_random_lam_per_batch_vs_per_clip(clips):
    g = torch.Generator().manual_seed(1)
    lam, index, donor = sample_be_params(64, 6, 0.3, generator=g)
    assert torch.all(lam == lam[0]) and 0 <= float(lam[0]) < 0.3
    assert torch.equal(donor, torch.arange(64))
    lam_c, index_c, _ = sample_be_params(64, 6, 0.3, lam_per_clip=True, generator=g)
    assert lam_c.unique().numel() > 1 and bool((lam_c >= 0).all() and (lam_c < 0.3).all())
    assert index_c.min() >= 0 and index_c.max() <= 5 and index_c.unique().numel() > 1

    # The random path applies exactly the drawn parameters: replay them with a same-seed generator.
    for per_clip in (False, True):
        out = background_erasing(clips, 0.3, generator=torch.Generator().manual_seed(7), lam_per_clip=per_clip)
        lam, index, donor = sample_be_params(
            4, 6, 0.3, lam_per_clip=per_clip, generator=torch.Generator().manual_seed(7)
        )
        torch.testing.assert_close(out.double(), reference_be(clips, lam.double(), index), rtol=1e-5, atol=1e-6)


def test_inter_source_takes_static_frame_from_another_clip(clips):
    g = torch.Generator().manual_seed(3)
    out = background_erasing(clips, 0.3, lam=0.2, generator=g, source="inter")
    lam, index, donor = sample_be_params(4, 6, 0.3, source="inter", generator=torch.Generator().manual_seed(3))
    assert sorted(donor.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(
        out.double(), reference_be(clips, torch.full((4,), 0.2), index, donor), rtol=1e-6, atol=1e-6
    )


def test_deterministic_given_generator(clips):
    a = background_erasing(clips, generator=torch.Generator().manual_seed(5))
    b = background_erasing(clips, generator=torch.Generator().manual_seed(5))
    c = background_erasing(clips, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_input_untouched_unless_inplace(clips):
    before = clips.clone()
    out = background_erasing(clips, lam=0.3, index=torch.tensor([0, 1, 2, 3]))
    assert torch.equal(clips, before) and out.data_ptr() != clips.data_ptr()
    out2 = background_erasing(clips, lam=0.3, index=torch.tensor([0, 1, 2, 3]), inplace=True)
    assert out2.data_ptr() == clips.data_ptr()
    # In place gives the same numbers as out of place: the static frames were copied before mixing.
    torch.testing.assert_close(out2, out)
    lam = torch.tensor([0.1, 0.2, 0.3, 0.0])
    x = before.clone()
    background_erasing(x, lam=lam, index=torch.tensor([5, 4, 3, 2]), inplace=True)
    torch.testing.assert_close(x.double(), reference_be(before, lam, torch.tensor([5, 4, 3, 2])), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_and_high_precision_dtypes(clips, dtype):
    x = clips.to(dtype)
    index = torch.tensor([2, 0, 1, 5])
    lam = torch.tensor([0.05, 0.1, 0.15, 0.25])
    for weight in (0.2, lam):
        out = background_erasing(x, lam=weight, index=index)
        assert out.dtype == dtype and out.shape == x.shape
        lam_vec = torch.full((4,), weight, dtype=torch.float64) if isinstance(weight, float) else weight
        ref = reference_be(x, lam_vec, index)
        tol = {torch.float16: 2e-3, torch.bfloat16: 2e-2, torch.float64: 1e-12}[dtype]
        torch.testing.assert_close(out.double(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(3, 8, 16, 16), "5 dims"),
        (torch.randint(0, 255, (2, 3, 4, 8, 8), dtype=torch.uint8), "floating-point"),
    ],
)
def test_bad_input_raises(bad, match):
    with pytest.raises(ValueError, match=match):
        background_erasing(bad)


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5])
def test_bad_alpha_raises(clips, alpha):
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\)"):
        background_erasing(clips, alpha)
    with pytest.raises(ValueError, match="alpha"):
        BackgroundErasing(alpha)


def test_bad_lam_and_index_raise(clips):
    with pytest.raises(ValueError, match="shape"):
        background_erasing(clips, lam=torch.rand(3))
    with pytest.raises(ValueError, match="index"):
        background_erasing(clips, index=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        background_erasing(clips, index=torch.tensor([0, 1, 2, 6]))
    with pytest.raises(ValueError, match="source"):
        background_erasing(clips, source="other")


def test_module_form(clips):
    m = BackgroundErasing(0.3, generator=torch.Generator().manual_seed(5))
    out = m(clips)
    assert torch.equal(out, background_erasing(clips, 0.3, generator=torch.Generator().manual_seed(5)))
    single = m(clips[0])
    assert single.shape == clips[0].shape
    assert "alpha=0.3" in repr(m)
    # p=0 never applies BE and still returns a new tensor.
    off = BackgroundErasing(0.3, p=0.0)(clips)
    assert torch.equal(off, clips) and off.data_ptr() != clips.data_ptr()


def test_static_background_is_unchanged():
    """The fact the book builds on: a perfectly static background is a fixed point of intra-video BE."""
    x = torch.rand(2, 3, 1, 8, 8).expand(2, 3, 5, 8, 8).clone()
    out = background_erasing(x, 0.3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x)
