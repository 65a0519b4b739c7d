"""MoCo machinery: queue order and wrap-around, momentum update, InfoNCE logits, shuffled BN."""

import torch
import torch.nn.functional as F
from torch import nn

from tbe_lib.moco import MoCo, grouped_forward, info_nce_logits


class TinyEncoder(nn.Module):
    """Clips (N, 3, T, H, W) -> unit vectors (N, 8), with a BatchNorm so BN grouping matters."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 8)
        self.bn = nn.BatchNorm1d(8)

    def forward(self, x):
        return F.normalize(self.bn(self.fc(x.mean((2, 3, 4)))), dim=1)


def test_queue_holds_last_k_keys_in_order_and_wraps():
    m = MoCo(TinyEncoder(), dim=8, queue_size=10)
    keys = [F.normalize(torch.randn(4, 8), dim=1) for _ in range(4)]  # 16 keys > K = 10
    for k in keys:
        m.enqueue(k)
    allk = torch.cat(keys)  # key j was written at slot j % 10
    assert int(m.queue_ptr) == 16 % 10
    for j in range(6, 16):  # the last 10 keys survive
        torch.testing.assert_close(m.queue[j % 10], allk[j])
    # A batch larger than the queue keeps only its newest K keys, in order.
    big = F.normalize(torch.randn(23, 8), dim=1)
    m.enqueue(big)
    ptr0 = 6
    for j in range(10):
        torch.testing.assert_close(m.queue[(ptr0 + j) % 10], big[13 + j])


def test_momentum_update_formula():
    m = MoCo(TinyEncoder(), dim=8, queue_size=4, momentum=0.9)
    with torch.no_grad():
        for p in m.encoder_q.parameters():
            p.add_(1.0)
    before_k = [p.clone() for p in m.encoder_k.parameters()]
    q = [p.clone() for p in m.encoder_q.parameters()]
    m.momentum_update()
    for pk0, pq, pk in zip(before_k, q, m.encoder_k.parameters()):
        torch.testing.assert_close(pk, 0.9 * pk0 + 0.1 * pq)
    assert all(not p.requires_grad for p in m.encoder_k.parameters())


def test_info_nce_logits_layout():
    q = F.normalize(torch.randn(5, 8), dim=1)
    k = F.normalize(torch.randn(5, 8), dim=1)
    n = F.normalize(torch.randn(5, 8), dim=1)
    queue = F.normalize(torch.randn(7, 8), dim=1)
    lg = info_nce_logits(q, k, queue, n, 0.07)
    assert lg.shape == (5, 1 + 7 + 1)
    torch.testing.assert_close(lg[:, 0], (q * k).sum(1) / 0.07)
    torch.testing.assert_close(lg[:, 1:8], q @ queue.t() / 0.07)
    torch.testing.assert_close(lg[:, 8], (q * n).sum(1) / 0.07)
    assert info_nce_logits(q, k, queue, None, 0.07).shape == (5, 8)


def test_shuffled_bn_keys_match_grouped_forward_of_the_permuted_batch():
    torch.manual_seed(0)
    m = MoCo(TinyEncoder(), dim=8, queue_size=4, bn_groups=2)
    x = torch.randn(8, 3, 2, 4, 4)
    torch.manual_seed(1)
    k = m.encode_key(x)
    torch.manual_seed(1)
    perm = torch.randperm(8)
    expected = grouped_forward(m.encoder_k, x[perm], 2)[torch.argsort(perm)]
    torch.testing.assert_close(k, expected)
    # The grouping really changes BN statistics: one BN batch of all 8 gives other keys.
    assert not torch.allclose(k, m.encoder_k(x))
    # Without shuffling BN the keys are one plain forward.
    m1 = MoCo(TinyEncoder(), dim=8, queue_size=4, bn_groups=1)
    torch.testing.assert_close(m1.encode_key(x), m1.encoder_k(x))


def test_forward_gives_logits_and_keys_and_gradients_reach_query_encoder_only():
    m = MoCo(TinyEncoder(), dim=8, queue_size=6, bn_groups=2)
    q, k, n = (torch.randn(4, 3, 2, 4, 4) for _ in range(3))
    logits, keys = m(q, k, n)
    assert logits.shape == (4, 1 + 6 + 1) and keys.shape == (4, 8)
    F.cross_entropy(logits, torch.zeros(4, dtype=torch.long)).backward()
    assert all(p.grad is not None for p in m.encoder_q.parameters())
    assert all(p.grad is None for p in m.encoder_k.parameters())
