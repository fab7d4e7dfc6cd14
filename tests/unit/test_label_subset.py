"""Scoring a subset of the labels (train.label_sample): the sampler, each head's subset
logits against its full logits, and PLANT's sort-free margin inattention against the
reference one."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from labelwise.models.heads.label_subset import (
    UNSCORED,
    sample_labels,
    scoring_labels,
    shortlisted_logits,
    supports_label_subset,
)
from labelwise.models.heads.plant import (
    PlantHead,
    inattention,
    margin_inattention,
    margin_over_tokens,
)
from labelwise.plant.l2r import L2RModel
from labelwise.registry import HEADS
from labelwise.types import EncoderOutput

D, V, L = 8, 30, 11


def _enc(lengths: list[int], t: int = 9, seed: int = 0) -> EncoderOutput:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(len(lengths), t, D, generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    ids = torch.randint(1, V, (len(lengths), t), generator=g).masked_fill(~mask, 0)
    return EncoderOutput(token_states=h, mask=mask, pooled=h.mean(1), input_ids=ids)


def _head(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    params: dict[str, Any] = {"dropout": 0.0}
    if name != "linear":
        params.update(attn_dim=5, label_chunk_size=4)
    if name == "plant":
        params.update(vocab_size=V, factor_dim=6, inattention_k=3)
    head = HEADS.create(name, D, L, **params)
    if isinstance(head, PlantHead):
        l2r = L2RModel(V, L, 6, init_scale=1.0, seed=1)
        head.plant(l2r)
    return head.eval()


# ------------------------------------------------------------------------ sampler


def test_sample_keeps_every_positive_and_fills_the_budget() -> None:
    targets = torch.zeros(4, 50)
    targets[0, [3, 7]] = 1
    targets[2, [7, 41]] = 1
    ids = sample_labels(targets, 10, torch.Generator().manual_seed(0))
    assert ids.tolist() == sorted(set(ids.tolist()))  # sorted, no repeats
    assert len(ids) == 10 and {3, 7, 41} <= set(ids.tolist())
    again = sample_labels(targets, 10, torch.Generator().manual_seed(0))
    other = sample_labels(targets, 10, torch.Generator().manual_seed(1))
    assert torch.equal(ids, again) and not torch.equal(ids, other)


def test_sample_with_more_positives_than_budget_keeps_them_all() -> None:
    targets = torch.zeros(2, 20)
    targets[0, :8] = 1
    ids = sample_labels(targets, 5, torch.Generator().manual_seed(0))
    assert ids.tolist() == list(range(8))
    assert sample_labels(targets, 20, torch.Generator()).tolist() == list(range(20))
    with pytest.raises(ValueError, match="budget"):
        sample_labels(targets, 0, torch.Generator())


def test_negatives_are_drawn_uniformly() -> None:
    targets = torch.zeros(1, 40)
    targets[0, 0] = 1
    counts = torch.zeros(40)
    gen = torch.Generator().manual_seed(3)
    for _ in range(2000):
        counts[sample_labels(targets, 5, gen)] += 1
    assert counts[0] == 2000
    # each of the 39 negatives is drawn with probability 4/39: about 205 of 2000
    assert counts[1:].min() > 140 and counts[1:].max() < 280


def test_sample_with_a_shortlist_keeps_positives_and_candidates() -> None:
    targets = torch.zeros(2, 30)
    targets[0, 3] = targets[1, 20] = 1
    candidates = torch.tensor([[3, 5, 9], [9, 11, 2]])
    gen = torch.Generator().manual_seed(0)
    assert sample_labels(targets, None, gen, candidates).tolist() == [2, 3, 5, 9, 11, 20]
    filled = sample_labels(targets, 10, gen, candidates)  # uniform negatives up to the budget
    assert len(filled) == 10 and {2, 3, 5, 9, 11, 20} <= set(filled.tolist())
    assert sample_labels(targets, 4, gen, candidates).tolist() == [2, 3, 5, 9, 11, 20]  # all kept
    assert sample_labels(targets, 30, gen, candidates).tolist() == list(range(30))


# ------------------------------------------------------------------------ heads


@pytest.mark.parametrize("name", ["linear", "labelwise_attention", "plant"])
def test_subset_logits_equal_the_full_logits_columns(name: str) -> None:
    head = _head(name)
    enc = _enc([9, 6, 2])
    full = head(enc).logits
    subset = torch.tensor([0, 2, 3, 7, 8, 10])
    with scoring_labels(head, subset):
        part = head(enc).logits
    assert part.shape == (3, 6)
    torch.testing.assert_close(part, full[:, subset], rtol=1e-5, atol=1e-6)
    assert head.label_subset is None  # restored after the block
    torch.testing.assert_close(head(enc).logits, full)


@pytest.mark.parametrize("name", ["linear", "labelwise_attention", "plant"])
def test_shortlisted_logits_equal_the_full_logits_columns(name: str) -> None:
    head = _head(name)
    enc = _enc([9, 6, 2])
    full = head(enc).logits
    candidates = torch.tensor([[4, 0, 7], [7, 10, 1], [2, 4, 9]])
    widths: list[int] = []

    def score() -> torch.Tensor:
        out = head(enc).logits
        widths.append(out.shape[1])
        return out

    got = shortlisted_logits(head, candidates, score)
    assert widths == [7]  # the union of the batch's candidates, scored once
    assert got.shape == full.shape
    picked = torch.zeros_like(full, dtype=torch.bool).scatter_(1, candidates, True)
    torch.testing.assert_close(got[picked], full[picked], rtol=1e-5, atol=1e-6)
    assert (got[~picked] == UNSCORED).all()
    assert head.label_subset is None


@pytest.mark.parametrize("name", ["linear", "labelwise_attention", "plant"])
def test_subset_gradients_reach_only_the_scored_labels(name: str) -> None:
    head = _head(name).train()
    subset = torch.tensor([1, 4, 9])
    with scoring_labels(head, subset):
        head(_enc([9, 5])).logits.sum().backward()
    weight = head.net[-1].weight if name == "linear" else head.label_weight  # type: ignore[index]
    grad = weight.grad
    assert grad is not None
    scored = torch.zeros(L, dtype=torch.bool)
    scored[subset] = True
    assert (grad[scored].abs().sum(1) > 0).all()
    assert (grad[~scored] == 0).all()


def test_a_head_without_subsets_is_refused() -> None:
    class Plain(torch.nn.Module):
        pass

    assert not supports_label_subset(Plain())
    with pytest.raises(ValueError, match="label_sample"), scoring_labels(Plain(), torch.tensor([0])):
        pass
    with scoring_labels(Plain(), None):  # nothing asked: nothing to refuse
        pass


# ------------------------------------------------------------------ margin inattention


@pytest.mark.parametrize("k", [1, 3, 5, 9, 50, None])
def test_margin_inattention_equals_the_sorted_reference(k: int | None) -> None:
    lengths = [9, 5, 3, 1, 0]
    mask = torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]
    scores = torch.randn(len(lengths), 4, 9)
    scores[:, :, 2] = scores[:, :, 4]  # exact ties, as repeated tokens give the static stream
    scores[0, 0, :] = 1.5  # a row of ties only
    fast = margin_inattention(scores, mask, k)
    ref = inattention(scores, mask, k, "margin")[0]
    assert torch.equal(fast, ref)


def test_margin_inattention_gradients_equal_the_reference_without_ties() -> None:
    mask = torch.arange(9)[None, :] < torch.tensor([9, 6, 2])[:, None]
    base = torch.randn(3, 4, 9, dtype=torch.float64)
    weights = torch.randn(3, 4, 9, dtype=torch.float64)
    grads = []
    for fn in (lambda s: margin_inattention(s, mask, 3), lambda s: inattention(s, mask, 3, "margin")[0]):
        s = base.clone().requires_grad_(True)
        (fn(s) * weights).sum().backward()
        grads.append(s.grad)
    torch.testing.assert_close(grads[0], grads[1])
    s = base.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: margin_inattention(x, mask, 3), (s,))


@pytest.mark.parametrize("k", [1, 4, 9, None])
def test_margin_without_a_mask_equals_an_all_real_mask(k: int | None) -> None:
    scores = torch.randn(3, 5, 9)  # (B, l, T)
    scores[:, :, 1] = scores[:, :, 6]
    full = torch.ones(3, 9, dtype=torch.bool)
    fast = margin_over_tokens(scores.transpose(1, 2), None, k).transpose(1, 2)
    assert torch.equal(fast, inattention(scores, full, k, "margin")[0])


def test_plant_head_logits_do_not_depend_on_the_pads_of_other_documents() -> None:
    head = _head("plant")
    enc = _enc([9, 9, 9])
    alone = head(enc).logits
    padded = _enc([9, 9, 9])
    padded.mask[2, 4:] = False  # another document gets pads: the batch takes the masked path
    assert torch.equal(padded.token_states, enc.token_states)
    both = head(padded).logits
    torch.testing.assert_close(both[:2], alone[:2], rtol=1e-5, atol=1e-6)
