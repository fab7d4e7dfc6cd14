"""LambdaRank loss and NDCG@k against brute-force Python loops; the L2R model's training,
determinism and safetensors round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labelwise.plant.l2r import (
    L2RModel,
    lambdarank_loss,
    ndcg_at_k,
    rank_grades,
    train_l2r,
)
from labelwise.plant.mig import MigTable

# ----------------------------------------------------------------------------- brute force


def dcg_of_order(order: list[int], rel: list[float], k: int) -> float:
    return sum((2.0 ** rel[i] - 1.0) / math.log2(r + 2) for r, i in enumerate(order[:k]))


def brute_ndcg(scores: list[float], rel: list[float], valid: list[bool], k: int) -> float:
    items = [i for i in range(len(scores)) if valid[i]]
    order = sorted(items, key=lambda i: -scores[i])
    ideal = sorted(items, key=lambda i: -rel[i])
    idcg = dcg_of_order(ideal, rel, k)
    return dcg_of_order(order, rel, k) / idcg if idcg > 0 else math.nan


def brute_lambdarank(scores: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor, k: int,
                     sigma: float) -> torch.Tensor:
    """Explicit double loop; |delta NDCG@k| by swapping two items in the ranking and
    recomputing NDCG@k from scratch (a Python float: a constant for autograd)."""
    per_list = []
    for b in range(scores.shape[0]):
        s = scores[b].detach().tolist()
        r = rel[b].tolist()
        items = [i for i in range(len(s)) if bool(mask[b, i])]
        order = sorted(items, key=lambda i: -s[i])
        idcg = dcg_of_order(sorted(items, key=lambda i: -r[i]), r, k)
        base = dcg_of_order(order, r, k) / idcg if idcg > 0 else 0.0
        total = scores.new_zeros(())
        pairs = 0
        for i in items:
            for j in items:
                if r[i] > r[j]:
                    pairs += 1
                    swapped = list(order)
                    pi, pj = swapped.index(i), swapped.index(j)
                    swapped[pi], swapped[pj] = j, i
                    new = dcg_of_order(swapped, r, k) / idcg if idcg > 0 else 0.0
                    delta = abs(new - base)
                    diff = scores[b, i] - scores[b, j]
                    total = total + delta * torch.log1p(torch.exp(-sigma * diff))
        if pairs:
            per_list.append(total)
    return torch.stack(per_list).mean()


def make_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    b, n = 5, 9
    scores = torch.randn(b, n, generator=gen, dtype=torch.float64)
    rel = torch.randint(0, 4, (b, n), generator=gen).to(torch.float64)   # ties included
    mask = torch.ones(b, n, dtype=torch.bool)
    mask[1, 6:] = False                                   # padded tail
    mask[2, [0, 4]] = False                               # holes
    rel[1, 7] = 3.0                                       # a padded entry with high relevance
    scores[1, 7] = 10.0                                   # and a high score: must never count
    rel[3] = 0.0                                          # no pair: excluded from the mean
    return scores, rel, mask


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("k", [1, 3, 9])
@pytest.mark.parametrize("sigma", [0.5, 1.7])
def test_lambdarank_matches_brute_force_value_and_gradient(k: int, sigma: float) -> None:
    scores, rel, mask = make_batch()
    s1 = scores.clone().requires_grad_(True)
    s2 = scores.clone().requires_grad_(True)
    fast = lambdarank_loss(s1, rel, k, sigma, mask)
    slow = brute_lambdarank(s2, rel, mask, k, sigma)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-12)
    (g1,) = torch.autograd.grad(fast, s1)
    (g2,) = torch.autograd.grad(slow, s2)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)
    assert torch.all(g1[~mask] == 0)                       # padded entries get no gradient
    assert torch.all(g1[3] == 0)                           # nor a list without pairs


def test_lambdarank_gradcheck() -> None:
    scores, rel, mask = make_batch(seed=3)
    # the |delta NDCG| weights are detached and piecewise constant in the scores, so finite
    # differences (eps far below the gaps between scores) see the weighted RankNet loss
    s = scores.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: lambdarank_loss(x, rel, 3, 0.5, mask), (s,),
                                    eps=1e-6, atol=1e-7)


def test_lambdarank_without_pairs_is_zero_and_differentiable() -> None:
    s = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    loss = lambdarank_loss(s, torch.zeros(2, 4, dtype=torch.float64), 3)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert s.grad is not None and torch.all(s.grad == 0)


def test_ndcg_hand_computation_and_mask() -> None:
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    rel = torch.tensor([[0.0, 1.0, 2.0, 0.0]])
    # ranking 0, 1, 2, 3; DCG@2 = 0 + 1/log2(3); ideal: 3/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3)) / (3.0 + 1 / math.log2(3))
    assert float(ndcg_at_k(scores, rel, 2)) == pytest.approx(expected)
    # a padded entry with the top score and the top relevance changes nothing
    s_pad = torch.tensor([[3.0, 2.0, 1.0, 0.0, 99.0]])
    r_pad = torch.tensor([[0.0, 1.0, 2.0, 0.0, 5.0]])
    m_pad = torch.tensor([[True, True, True, True, False]])
    assert float(ndcg_at_k(s_pad, r_pad, 2, m_pad)) == pytest.approx(expected)
    # perfect order -> 1; k beyond the list length is fine
    assert float(ndcg_at_k(rel, rel, 10)) == pytest.approx(1.0)


def test_ndcg_excludes_lists_of_zero_ideal_dcg_and_matches_brute_force() -> None:
    scores, rel, mask = make_batch(seed=5)
    for k in (1, 2, 5):
        per = ndcg_at_k(scores, rel, k, mask, reduction="none")
        for b in range(scores.shape[0]):
            ref = brute_ndcg(scores[b].tolist(), rel[b].tolist(), mask[b].tolist(), k)
            if math.isnan(ref):
                assert math.isnan(float(per[b]))
            else:
                assert float(per[b]) == pytest.approx(ref, rel=1e-12)
        ok = ~torch.isnan(per)
        assert not bool(ok[3])
        assert float(ndcg_at_k(scores, rel, k, mask)) == pytest.approx(float(per[ok].mean()))
    assert math.isnan(float(ndcg_at_k(scores[3:4], rel[3:4], 2)))


def test_rank_grades() -> None:
    g = rank_grades(np.array([4, 1, 0, 6]), num_grades=4)
    assert g.tolist() == [4, 3, 2, 1, 4, 4, 4, 3, 2, 2, 1]


def synthetic_table(seed: int = 0, num_tokens: int = 80, num_labels: int = 40,
                    list_len: int = 15, rank: int = 3) -> MigTable:
    """Lists from a low-rank 'true' relevance: each label keeps its top tokens, with values
    decreasing along the list like MIG values."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(num_tokens, rank))
    w = rng.normal(size=(num_labels, rank))
    true = w @ u.T
    order = np.argsort(-true, axis=1, kind="stable")[:, :list_len]
    values = np.take_along_axis(true, order, axis=1)
    values = values - values.min() + 0.01
    indptr = np.arange(num_labels + 1) * list_len
    return MigTable(indptr, order.ravel().astype(np.int32), values.ravel().astype(np.float32),
                    num_tokens)


def test_train_l2r_improves_heldout_ndcg_and_is_deterministic(tmp_path) -> None:
    table = synthetic_table()
    kwargs = dict(factor_dim=8, epochs=25, lr=0.05, batch_labels=8, k=5, sigma=0.5,
                  negatives=15, seed=7, valid_fraction=0.2)
    model, metrics = train_l2r(table, **kwargs)
    assert len(metrics["heldout_ndcg"]) == 25 and metrics["num_heldout_lists"] == 40
    assert metrics["heldout_ndcg"][-1] > metrics["initial_heldout_ndcg"] + 0.15
    assert metrics["train_ndcg"][-1] > metrics["initial_train_ndcg"] + 0.3
    assert metrics["loss"][-1] < metrics["loss"][0]
    model2, metrics2 = train_l2r(table, **kwargs)
    assert metrics2 == metrics
    for (name, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    # save / load round trip
    model.save(tmp_path / "l2r")
    back = L2RModel.load(tmp_path / "l2r")
    assert back.factor_dim == 8
    labels = torch.tensor([0, 5, 39])
    tokens = torch.randint(0, 80, (3, 6))
    torch.testing.assert_close(back(labels, tokens), model(labels, tokens))


def test_model_scores_agree() -> None:
    model = L2RModel(num_tokens=12, num_labels=5, factor_dim=4, seed=1)
    with torch.no_grad():
        model.token_bias.normal_()
        model.label_bias.normal_()
    labels = torch.tensor([1, 4])
    tokens = torch.tensor([[0, 3, 11], [2, 2, 7]])
    full = model.score_matrix(labels)                                # (2, 12)
    torch.testing.assert_close(model(labels, tokens), full.gather(1, tokens))
    manual = (model.token_factors[3] @ model.label_factors[1] + model.token_bias[3]
              + model.label_bias[1])
    torch.testing.assert_close(model(labels, tokens)[0, 1], manual)
    torch.testing.assert_close(model.score_matrix(labels, tokens[0]), full[:, tokens[0]])
