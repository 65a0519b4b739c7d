"""Tests for tbe_lib.evaluate: retrieval Recall@k, classification metrics, probes, embeddings."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import confusion_matrix as sk_confusion_matrix  # noqa: E402
from sklearn.metrics.pairwise import cosine_distances  # noqa: E402

from tbe_lib.evaluate import (  # noqa: E402
    ClassificationReport,
    aggregate_clips,
    background_probe,
    classification_report,
    confusion_matrix,
    embed_2d,
    knn_accuracy,
    knn_predict,
    linear_probe,
    mean_class_accuracy,
    per_class_accuracy,
    plot_confusion,
    plot_embedding,
    plot_embedding_pair,
    retrieval_neighbours,
    retrieval_recall,
    topk_accuracy,
    video_labels,
    video_level_logits,
)

KS = (1, 5, 10, 20, 50)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _features(n_q: int, n_g: int, d: int, n_labels: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n_q, d, generator=g)
    gal = torch.randn(n_g, d, generator=g)
    ql = torch.randint(0, n_labels, (n_q,), generator=g)
    gl = torch.randint(0, n_labels, (n_g,), generator=g)
    return q, ql, gal, gl


def _reference_recall(q, ql, g, gl, ks):
    """The paper's reterival.py: sklearn cosine_distances, argsort ascending, label in top k."""
    dist = cosine_distances(q.numpy().astype(np.float64), g.numpy().astype(np.float64))
    order = np.argsort(dist, axis=1)
    out = {}
    for k in ks:
        hits = sum(int(ql[i].item() in gl.numpy()[order[i, :k]]) for i in range(len(ql)))
        out[k] = hits / len(ql) * 100
    return out


# ---------------------------------------------------------------------------- retrieval
@pytest.mark.parametrize("n_labels", [2, 7, 40])
def test_recall_matches_bruteforce_reference(n_labels):
    q, ql, g, gl = _features(61, 83, 16, n_labels, seed=n_labels)
    ours = retrieval_recall(q, ql, g, gl, KS)
    ref = _reference_recall(q, ql, g, gl, KS)
    assert list(ours) == list(KS)
    for k in KS:
        assert ours[k] == pytest.approx(ref[k], abs=1e-9), k
    assert all(a <= b for a, b in zip(list(ours.values()), list(ours.values())[1:]))  # monotone in k


@pytest.mark.parametrize("n_labels", [3, 25])
def test_recall_matches_torchmetrics_hit_rate(n_labels):
    from torchmetrics.retrieval import RetrievalHitRate

    q, ql, g, gl = _features(40, 70, 12, n_labels, seed=100 + n_labels)
    ours = retrieval_recall(q, ql, g, gl, KS)
    sim = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(g, dim=1).T  # (Nq, Ng)
    target = gl[None, :] == ql[:, None]
    indexes = torch.arange(len(q))[:, None].expand_as(sim)
    for k in KS:
        hr = RetrievalHitRate(top_k=k)(sim.flatten(), target.flatten(), indexes=indexes.flatten())
        assert ours[k] == pytest.approx(float(hr) * 100, abs=1e-4), k


def test_recall_hand_example():
    # gallery: two items along x (labels 0, 1), one along y (label 2)
    g = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    gl = torch.tensor([0, 1, 2])
    q = torch.tensor([[1.0, 0.05], [0.1, 1.0]])  # nearest: item 0 then 1; item 2 then 1
    ql = torch.tensor([1, 0])
    r = retrieval_recall(q, ql, g, gl, ks=(1, 2, 3))
    # query 0 (label 1): miss at 1, hit at 2; query 1 (label 0): item 0 is its farthest -> hit only at 3
    assert r == {1: 0.0, 2: 50.0, 3: 100.0}
    idx, sim = retrieval_neighbours(q, g, k=3, return_similarity=True)
    assert idx.tolist() == [[0, 1, 2], [2, 1, 0]]
    assert torch.all(sim[:, :-1] >= sim[:, 1:])


def test_chunking_gives_identical_results():
    q, ql, g, gl = _features(103, 90, 24, 9, seed=3)
    full = retrieval_recall(q, ql, g, gl, KS, chunk_size=4096)
    for cs in (1, 7, 50, 103):
        assert retrieval_recall(q, ql, g, gl, KS, chunk_size=cs) == full
    assert torch.equal(retrieval_neighbours(q, g, 10, chunk_size=7), retrieval_neighbours(q, g, 10))


def test_recall_accepts_numpy_float64_and_device_argument():
    q, ql, g, gl = _features(30, 45, 8, 4, seed=5)
    a = retrieval_recall(q, ql, g, gl, (1, 5))
    b = retrieval_recall(q.double().numpy(), ql.numpy(), g.double().numpy(), gl.numpy(), (1, 5), device="cpu")
    assert a == pytest.approx(b)


def test_recall_scale_invariant_and_zero_vector():
    q, ql, g, gl = _features(20, 30, 6, 3, seed=6)
    assert retrieval_recall(q * 7.5, ql, g * 0.01, gl, (1, 5)) == retrieval_recall(q, ql, g, gl, (1, 5))
    q[0] = 0  # a zero query has similarity 0 to everything; no NaN
    idx, sim = retrieval_neighbours(q, g, 3, return_similarity=True)
    assert torch.isfinite(sim).all() and torch.all(sim[0] == 0)


def test_k_larger_than_gallery_rejected():
    q, ql, g, gl = _features(5, 12, 4, 3, seed=7)
    with pytest.raises(ValueError, match=r"k=50 .*gallery size \(12 items\)"):
        retrieval_recall(q, ql, g, gl, ks=(1, 50))
    with pytest.raises(ValueError, match=r"k=13"):
        retrieval_neighbours(q, g, k=13)
    with pytest.raises(ValueError, match="positive int"):
        retrieval_recall(q, ql, g, gl, ks=(0,))
    with pytest.raises(ValueError, match="ks is empty"):
        retrieval_recall(q, ql, g, gl, ks=())


def test_mismatched_shapes_rejected():
    q, ql, g, gl = _features(5, 12, 4, 3, seed=8)
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(12, 3\)"):
        retrieval_recall(q, ql, g[:, :3], gl, ks=(1,))
    with pytest.raises(ValueError, match=r"query_labels must have shape \(5,\).*\(4,\)"):
        retrieval_recall(q, ql[:4], g, gl, ks=(1,))
    with pytest.raises(ValueError, match=r"gallery_labels must have shape \(12,\)"):
        retrieval_recall(q, ql, g, gl[None], ks=(1,))
    with pytest.raises(ValueError, match=r"query_feats must be 2-D.*\(5, 4, 1\)"):
        retrieval_recall(q[..., None], ql, g, gl, ks=(1,))
    with pytest.raises(ValueError, match="integer labels"):
        retrieval_recall(q, ql.float(), g, gl, ks=(1,))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_recall_on_gpu_matches_cpu():
    q, ql, g, gl = _features(300, 500, 64, 10, seed=9)
    assert retrieval_recall(q.cuda(), ql.cuda(), g.cuda(), gl.cuda(), KS, chunk_size=64) == pytest.approx(
        retrieval_recall(q, ql, g, gl, KS)
    )


# ----------------------------------------------------------------------- classification
def _softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def test_video_level_softmax_mean_against_hand_computation():
    # video 7: one very confident clip for class 0, two moderate clips for class 1.
    # The logit mean picks class 0 ([10, 1.33, 0]); the softmax mean picks class 1.
    # video 3: two clips that disagree mildly.
    clips = torch.tensor([[30.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 0.5], [0.0, 0.2, 0.0]])
    vids = torch.tensor([7, 7, 7, 3, 3])
    scores, ids = aggregate_clips(clips, vids)
    assert ids.tolist() == [3, 7]
    p = [_softmax(r) for r in clips.tolist()]
    hand7 = [(p[0][c] + p[1][c] + p[2][c]) / 3 for c in range(3)]
    hand3 = [(p[3][c] + p[4][c]) / 2 for c in range(3)]
    assert scores[1].tolist() == pytest.approx(hand7, abs=1e-6)
    assert scores[0].tolist() == pytest.approx(hand3, abs=1e-6)
    assert scores[1].argmax() == 1 and hand7[1] == pytest.approx(0.5247, abs=1e-3)
    logit_mean, _ = aggregate_clips(clips, vids, reduce="mean")
    assert logit_mean[1].tolist() == pytest.approx([10.0, 4 / 3, 0.0]) and logit_mean[1].argmax() == 0
    assert torch.allclose(scores.sum(dim=1), torch.ones(2))
    # contiguous-index version and log-probabilities give the same probabilities
    direct = video_level_logits(clips.log_softmax(dim=1), torch.tensor([1, 1, 1, 0, 0]))
    assert torch.allclose(direct, scores, atol=1e-6)


def test_clip_level_and_video_level_differ():
    clips = torch.tensor([[30.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 1.0]])
    labels = torch.tensor([1, 1, 1, 2, 2])
    vids = torch.tensor([0, 0, 0, 1, 1])
    clip_acc = topk_accuracy(clips, labels, ks=(1, 2))
    assert clip_acc[1] == pytest.approx(80.0)  # the confident class-0 clip is wrong
    rep = classification_report(clips, labels, vids)
    assert isinstance(rep, ClassificationReport)
    assert rep.clip_top1 == pytest.approx(80.0) and rep.video_top1 == pytest.approx(100.0)
    assert rep.clip_top5 is None and rep.video_top5 is None  # only 3 classes
    assert rep.n_clips == 5 and rep.n_videos == 2 and rep.mean_class_acc == pytest.approx(100.0)
    text = str(rep)
    assert "clip-level" in text and "video-level" in text and "80.00" in text
    assert set(rep.to_dict()) == {
        "clip_top1",
        "clip_top5",
        "video_top1",
        "video_top5",
        "mean_class_acc",
        "n_videos",
        "n_clips",
    }


def test_topk_accuracy_hand_example_and_errors():
    logits = torch.tensor(
        [[0.1, 0.5, 0.2, 0.0, -1.0, 0.3], [0.9, 0.1, 0.2, 0.3, 0.4, 0.5], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]]
    )
    labels = torch.tensor([1, 5, 0])
    acc = topk_accuracy(logits, labels, ks=(1, 2, 5))
    assert acc == pytest.approx({1: 100 / 3, 2: 200 / 3, 5: 200 / 3})
    with pytest.raises(ValueError, match=r"k=7"):
        topk_accuracy(logits, labels, ks=(7,))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 6\)"):
        topk_accuracy(logits, torch.tensor([1, 6, 0]))
    with pytest.raises(ValueError, match="3 rows"):
        aggregate_clips(logits, torch.tensor([0, 1]))


def test_video_labels_consistency():
    y, ids = video_labels(torch.tensor([4, 4, 2, 2, 2]), torch.tensor([10, 10, 3, 3, 3]))
    assert y.tolist() == [2, 4] and ids.tolist() == [3, 10]
    with pytest.raises(ValueError, match="different labels"):
        video_labels(torch.tensor([4, 1]), torch.tensor([10, 10]))
    with pytest.raises(ValueError, match="no clips"):
        video_level_logits(torch.zeros(2, 3), torch.tensor([0, 2]), num_videos=3)


def test_confusion_and_mean_class_accuracy_hand_example():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    preds = torch.tensor([0, 0, 1, 1, 0, 2])
    cm = confusion_matrix(preds, labels, num_classes=4)  # class 3 never occurs
    assert cm.tolist() == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert np.array_equal(cm.numpy(), sk_confusion_matrix(labels, preds, labels=[0, 1, 2, 3]))
    pca = per_class_accuracy(preds, labels, 4)
    assert pca[:3].tolist() == pytest.approx([200 / 3, 50.0, 100.0]) and math.isnan(pca[3])
    # class 3 is absent from the labels -> excluded from the mean
    assert mean_class_accuracy(preds, labels, 4) == pytest.approx((200 / 3 + 50 + 100) / 3)
    # scores are accepted too (argmax)
    assert torch.equal(confusion_matrix(torch.nn.functional.one_hot(preds, 4).float(), labels, 4), cm)
    with pytest.raises(ValueError, match=r"preds must lie in \[0, 2\)"):
        confusion_matrix(preds, labels.clamp(max=1), 2)


def test_plot_confusion_returns_figure():
    cm = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    fig = plot_confusion(cm, ["a", "b", "c"], normalize=True)
    assert isinstance(fig, Figure)
    img = fig.axes[0].images[0].get_array()
    assert img[2].tolist() == pytest.approx([0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="class_names has 2 names"):
        plot_confusion(cm, ["a", "b"])


# ------------------------------------------------------------------------------ probes
def _blobs(n_per: int, n_classes: int, d: int, sep: float, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, d)) * sep
    y = np.repeat(np.arange(n_classes), n_per)
    x = centres[y] + rng.normal(size=(len(y), d))
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32), y[perm]


def test_linear_probe_separable_features():
    x, y = _blobs(40, 4, 16, sep=4.0, seed=0)
    res = linear_probe(x[:120], y[:120], x[120:], y[120:], seed=0)
    assert res.accuracy >= 97.5
    assert res.chance == pytest.approx(25.0) and res.num_classes == 4 and res.converged
    assert res.n_train == 120 and res.n_test == 40 and res.predictions.shape == (40,)
    assert "class probe" in str(res)


def test_linear_probe_random_labels_near_chance_and_deterministic():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 32)).astype(np.float32)
    y = rng.integers(0, 4, size=800)
    kw = dict(C=[0.01, 0.1, 1.0], seed=3)
    a = linear_probe(torch.from_numpy(x[:400]), torch.from_numpy(y[:400]), x[400:], y[400:], **kw)
    b = linear_probe(x[:400], y[:400], x[400:], y[400:], **kw)
    assert 12.0 <= a.accuracy <= 38.0  # chance is 25 %
    assert set(a.val_accuracy) == {0.01, 0.1, 1.0} and a.C in a.val_accuracy
    assert a.accuracy == b.accuracy and a.C == b.C and np.array_equal(a.predictions, b.predictions)


def test_linear_probe_errors():
    x, y = _blobs(10, 2, 4, sep=1.0, seed=2)
    with pytest.raises(ValueError, match="single class label"):
        linear_probe(x, np.zeros(20, dtype=int), x, y)
    with pytest.raises(ValueError, match="feature dimension"):
        linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match="C must be"):
        linear_probe(x, y, x, y, C=[])


def test_background_probe_chance_levels():
    rng = np.random.default_rng(4)
    n_bg = 5
    bg_train = np.arange(300) % n_bg
    bg_test = np.concatenate([np.zeros(40, dtype=int), np.arange(60) % n_bg])  # background 0 over-represented
    x_train = rng.normal(size=(300, 8))
    x_test = rng.normal(size=(100, 8))
    res = background_probe(x_train, bg_train, x_test, bg_test)
    assert res.target == "background" and "background probe" in str(res)
    assert res.chance == pytest.approx(100 / n_bg)
    # the most frequent training background is 0 (ties -> smallest id); it is 52 % of the test set
    assert res.majority == pytest.approx(52.0)
    assert res.accuracy < 45.0  # random features carry no background information
    # features that encode the background: the probe finds it
    enc_train = np.eye(n_bg)[bg_train] * 3 + rng.normal(size=(300, n_bg))
    enc_test = np.eye(n_bg)[bg_test] * 3 + rng.normal(size=(100, n_bg))
    assert background_probe(enc_train, bg_train, enc_test, bg_test).accuracy > 90.0


def test_knn_hand_example():
    # class 3 along +x, class 8 along +y; labels need not be contiguous
    train = torch.tensor([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1], [0.0, 1.0], [0.1, 1.0]])
    ytr = torch.tensor([3, 3, 3, 8, 8])
    test = torch.tensor([[1.0, 0.2], [0.2, 1.0], [1.0, 1.05]])
    yte = torch.tensor([3, 8, 8])
    assert knn_predict(train, ytr, test, k=1).tolist() == [3, 8, 8]
    assert knn_accuracy(train, ytr, test, yte, k=1) == pytest.approx(100.0)
    # k=5: every test point sees all 5 training points; majority says 3 everywhere
    assert knn_predict(train, ytr, test, k=5).tolist() == [3, 3, 3]
    assert knn_accuracy(train, ytr, test, yte, k=5) == pytest.approx(100 / 3)
    # similarity weighting lets the two very close class-8 neighbours win for the 2nd point
    assert knn_predict(train, ytr, test, k=5, weighting="similarity", temperature=0.05).tolist()[1] == 8
    # a 1-1 tie under majority goes to the smaller label
    sym_train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert knn_predict(sym_train, torch.tensor([8, 3]), torch.tensor([[1.0, 1.0]]), k=2).tolist() == [3]
    # 3rd point: its 2 nearest are (0.1, 1) [8] and (1, 0.1) [3] -> tie -> 3
    assert knn_predict(train, ytr, test, k=2, chunk_size=1).tolist() == [3, 8, 3]
    with pytest.raises(ValueError, match=r"k=6 .*gallery size \(5 items\)"):
        knn_accuracy(train, ytr, test, yte, k=6)


def test_knn_matches_sklearn_on_random_data():
    from sklearn.neighbors import KNeighborsClassifier

    x, y = _blobs(30, 3, 8, sep=1.0, seed=5)
    clf = KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(x[:60], y[:60])
    ref = (clf.predict(x[60:]) == y[60:]).mean() * 100
    assert knn_accuracy(x[:60], y[:60], x[60:], y[60:], k=1, chunk_size=4) == pytest.approx(ref)


# --------------------------------------------------------------------------- embeddings
@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embed_2d_shape_and_determinism(method):
    x, _ = _blobs(10, 3, 12, sep=3.0, seed=6)
    a = embed_2d(x, method=method, seed=0)
    b = embed_2d(torch.from_numpy(x), method=method, seed=0)
    assert a.shape == (30, 2) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_embed_2d_errors():
    x = np.random.default_rng(0).normal(size=(10, 4))
    with pytest.raises(ValueError, match="method must be"):
        embed_2d(x, method="mds")
    with pytest.raises(ValueError, match="2-D"):
        embed_2d(x[0])
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="umap-learn"):
            embed_2d(x, method="umap")


def test_plot_embedding_functions_return_figures():
    x, y = _blobs(8, 3, 6, sep=3.0, seed=7)
    xy = embed_2d(x, method="pca")
    bg = np.arange(len(y)) % 4
    fig = plot_embedding(xy, y, names=["run", "jump", "swim"], title="t")
    assert isinstance(fig, Figure) and len(fig.axes[0].collections) == 3
    fig2 = plot_embedding_pair(xy, y, bg, background_names={0: "beach", 1: "road", 2: "gym", 3: "park"})
    assert isinstance(fig2, Figure) and len(fig2.axes) == 2
    assert [len(a.collections) for a in fig2.axes] == [3, 4]
    assert fig2.axes[1].get_title() == "coloured by background"
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_embedding(xy, y[:-1])
