"""SupCon and its parts (similarity, positives) against explicit Python loops over pairs."""

from __future__ import annotations

import math

import pytest
import torch

from labelwise.losses import SupConLoss, supcon_loss, two_view_weights
from labelwise.losses.positives import (
    any_shared_label,
    jaccard,
    positive_weights,
    same_ancestor,
    same_class,
    shares_label,
)
from labelwise.losses.similarity import cosine_similarity_matrix, dot_similarity_matrix
from labelwise.registry import LOSSES
from labelwise.types import ModelOutput

TAU = 0.5
Z = [[1.0, 0.2, -0.3], [0.4, -1.0, 0.5], [0.9, 0.1, 0.0], [-0.2, 0.3, 1.1], [0.5, 0.5, 0.5]]
IDS = [0, 1, 0, 2, 1]  # item 3 has no positive
MULTI_HOT = [[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def _cos(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    return dot / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))


def _pair_weight(strategy: str, i: int, j: int) -> float:
    """The hand-written definition of each strategy for items i != j."""
    if strategy == "same_class":
        return float(IDS[i] == IDS[j])
    yi = {k for k, v in enumerate(MULTI_HOT[i]) if v}
    yj = {k for k, v in enumerate(MULTI_HOT[j]) if v}
    if strategy == "any_shared_label":
        return float(bool(yi & yj))
    return len(yi & yj) / len(yi | yj) if yi | yj else 0.0  # jaccard


def _loop_supcon(z: list[list[float]], weight, tau: float) -> float:
    """Mean over anchors with a positive of -sum_j w_ij log softmax_ij / sum_j w_ij."""
    n, losses = len(z), []
    for i in range(n):
        denom = sum(math.exp(_cos(z[i], z[k]) / tau) for k in range(n) if k != i)
        num, mass = 0.0, 0.0
        for j in range(n):
            w = weight(i, j) if j != i else 0.0
            if w > 0:
                num += w * math.log(math.exp(_cos(z[i], z[j]) / tau) / denom)
                mass += w
        if mass > 0:
            losses.append(-num / mass)
    return sum(losses) / len(losses)


def _targets(strategy: str) -> torch.Tensor:
    if strategy == "same_class":
        return torch.tensor(IDS)
    return torch.tensor(MULTI_HOT, dtype=torch.float64)


@pytest.mark.parametrize("strategy", ["same_class", "any_shared_label", "jaccard"])
@pytest.mark.parametrize("views", [1, 2])
def test_supcon_matches_pair_loop(strategy: str, views: int) -> None:
    n = len(Z)
    w = positive_weights(strategy, _targets(strategy))
    if views == 1:
        z_list = Z
        expected = _loop_supcon(Z, lambda i, j: _pair_weight(strategy, i, j), TAU)
    else:
        z_list = Z + [[a + 0.3 * math.sin(k + r) for k, a in enumerate(row)]
                      for r, row in enumerate(Z)]

        def weight(a: int, b: int) -> float:
            return 1.0 if a % n == b % n else _pair_weight(strategy, a % n, b % n)

        expected = _loop_supcon(z_list, weight, TAU)
        w = two_view_weights(w)
    got = supcon_loss(torch.tensor(z_list, dtype=torch.float64), w, TAU)
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_no_positive_gives_attached_zero() -> None:
    z = torch.tensor(Z, requires_grad=True)
    loss = supcon_loss(z, same_class(torch.arange(len(Z))), TAU)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    per_anchor = supcon_loss(z, torch.zeros(len(Z), len(Z)), TAU, reduction="none")
    assert per_anchor.shape == (len(Z),) and not per_anchor.isnan().any()


def test_invariant_to_batch_order() -> None:
    z, y = torch.tensor(Z, dtype=torch.float64), _targets("jaccard")
    perm = torch.tensor([3, 0, 4, 1, 2])
    a = supcon_loss(z, jaccard(y), TAU)
    b = supcon_loss(z[perm], jaccard(y[perm]), TAU)
    assert torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_gradcheck(similarity: str) -> None:
    z = torch.tensor(Z[:4], dtype=torch.float64, requires_grad=True)
    w = jaccard(torch.tensor(MULTI_HOT[:4], dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda x: supcon_loss(x, w, TAU, similarity=similarity), (z,))


def test_similarities() -> None:
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert torch.allclose(cosine_similarity_matrix(a), torch.tensor([[1.0, 0.6], [0.6, 1.0]]))
    assert torch.allclose(dot_similarity_matrix(a, a[:1]), torch.tensor([[25.0], [3.0]]))


def test_positive_strategies_by_hand() -> None:
    y = torch.tensor([[1.0, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert same_class(torch.tensor([2, 0, 2, -1])).tolist() == [
        [0, 0, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    one_hot = torch.tensor([[0.0, 1], [1, 0], [0, 1]])
    assert same_class(one_hot).tolist() == [[0, 0, 1], [0, 0, 0], [1, 0, 0]]
    assert any_shared_label(y).tolist() == [
        [0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    third, half = 1 / 3, 1 / 2
    assert torch.allclose(jaccard(y), torch.tensor(
        [[0, third, half, 0], [third, 0, 0, 0], [half, 0, 0, 0], [0, 0, 0, 0]]))
    assert jaccard(torch.zeros(2, 3)).tolist() == [[0, 0], [0, 0]]  # empty union -> 0
    assert shares_label(y, 1).tolist() == [
        [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # hierarchy: level 0 = nodes {0, 1}, level 1 = leaves {2, 3, 4} (ancestors included)
    tree = torch.tensor([[1.0, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [1, 0, 1, 0, 0]])
    assert same_ancestor(tree, [0, 1]).tolist() == [
        [0, 1, 0, 1], [1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]]
    assert same_ancestor(tree, [2, 3, 4]).tolist() == [
        [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    assert two_view_weights(torch.tensor([[0.0, 0.5], [0.5, 0]])).tolist() == [
        [0, 0.5, 1, 0.5], [0.5, 0, 0.5, 1], [1, 0.5, 0, 0.5], [0.5, 1, 0.5, 0]]


def test_positive_errors() -> None:
    with pytest.raises(ValueError, match="any_shared_label"):
        same_class(torch.tensor([[1.0, 1.0]]))
    with pytest.raises(ValueError, match="Did you mean 'jaccard'"):
        positive_weights("jacard", torch.zeros(2, 3))
    with pytest.raises(TypeError, match="label"):
        positive_weights("shares_label", torch.zeros(2, 3))


def test_supcon_in_combined_with_ce() -> None:
    torch.manual_seed(0)
    logits, emb, y = torch.randn(5, 3), torch.randn(5, 4), torch.tensor(IDS)
    out = ModelOutput(logits=logits, embeddings=emb)
    assert LOSSES.get("supcon") is SupConLoss
    combo = LOSSES.create("combined", parts=[{"name": "ce"}, {"name": "supcon", "weight": 0.2}])
    got = combo(out, y)
    ce = LOSSES.create("ce")(out, y).total
    sc = LOSSES.create("supcon")(out, y).total
    assert torch.allclose(got.total, ce + 0.2 * sc)
    assert set(got.parts) == {"ce", "supcon"}


def test_supcon_errors() -> None:
    loss = LOSSES.create("supcon")
    with pytest.raises(ValueError, match="projection head"):
        loss(ModelOutput(logits=torch.zeros(2, 3)), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="two views"):
        loss(ModelOutput(logits=torch.zeros(2, 3), embeddings=torch.zeros(3, 4)),
             torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="positives"):
        LOSSES.create("supcon", positives="shared")


def test_two_views_of_a_chunked_batch_keep_documents_apart() -> None:
    from labelwise.training.dataset import forward_docs, two_views
    from labelwise.types import Batch, ModelOutput

    ids = torch.arange(12).reshape(3, 4)  # rows are chunks: doc 0 has two, doc 1 one
    batch = Batch(ids, torch.ones(3, 4, dtype=torch.bool), torch.tensor([1, 0]), torch.tensor([0, 0, 1]))
    doubled = two_views(batch)
    assert doubled.num_docs == 4
    assert doubled.doc_index.tolist() == [0, 0, 1, 2, 2, 3]
    assert doubled.targets.tolist() == [1, 0, 1, 0]

    class Echo(torch.nn.Module):  # logits and embeddings = first token id
        def forward(self, input_ids, attention_mask):
            x = input_ids[:, :1].float()
            return ModelOutput(logits=x, embeddings=x, pooled=x)

    out = forward_docs(Echo(), doubled)
    assert out.logits[:, 0].tolist() == [4.0, 8.0, 4.0, 8.0]  # max over chunks
    assert out.embeddings[:, 0].tolist() == [2.0, 8.0, 2.0, 8.0]  # mean over chunks
