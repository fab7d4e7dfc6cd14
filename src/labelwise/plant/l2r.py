"""Learning-to-rank (L2R) model of token relevance per label, trained with LambdaRank.

The model scores a (token ``v``, label ``l``) pair as

    score(v, l) = p_v . q_l + b_v + b_l

with token factors ``P`` (V, k), label factors ``Q`` (L, k) and biases. It is trained, one
list per label, to order that label's MIG tokens (:mod:`labelwise.plant.mig`) by their MIG,
with sampled tokens outside the list as irrelevant (relevance 0).

Relevance grades, NDCG and the LambdaRank loss are the pure functions of
:mod:`labelwise.plant.ranking`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from labelwise import checkpoint as ckpt
from labelwise.plant.mig import MigTable
from labelwise.plant.ranking import (
    gains,
    ideal_dcg,
    lambda_weights,
    lambdarank_loss,
    ndcg_at_k,
    rank_grades,
    rank_positions,
)

__all__ = ["L2RModel", "RankLists", "evaluate_ndcg", "gains", "ideal_dcg", "lambda_weights",
           "lambdarank_loss", "ndcg_at_k", "rank_grades", "rank_positions", "train_l2r"]

FORMAT_VERSION = 1
TENSORS_FILE = "l2r.safetensors"
META_FILE = "l2r.json"


# the pure functions: labelwise.plant.ranking (re-exported here)


class L2RModel(nn.Module):
    """``score(v, l) = p_v . q_l + b_v + b_l``.

    Parameters: ``token_factors`` (V, k), ``label_factors`` (L, k), ``token_bias`` (V,),
    ``label_bias`` (L,). The label bias does not change the order of a label's tokens, so
    LambdaRank gives it no gradient; it is kept for the planted attention stream.
    """

    def __init__(self, num_tokens: int, num_labels: int, factor_dim: int = 400,
                 init_scale: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        if num_tokens < 1 or num_labels < 1 or factor_dim < 1:
            raise ValueError("num_tokens, num_labels and factor_dim must be >= 1")
        self.num_tokens = num_tokens
        self.num_labels = num_labels
        self.factor_dim = factor_dim
        self.init_scale = init_scale
        gen = torch.Generator().manual_seed(seed)
        # entries of std init_scale / k^(1/4): a dot product of two of them has std init_scale^2
        std = init_scale / factor_dim**0.25
        self.token_factors = nn.Parameter(torch.randn(num_tokens, factor_dim, generator=gen) * std)
        self.label_factors = nn.Parameter(torch.randn(num_labels, factor_dim, generator=gen) * std)
        self.token_bias = nn.Parameter(torch.zeros(num_tokens))
        self.label_bias = nn.Parameter(torch.zeros(num_labels))

    def config(self) -> dict[str, Any]:
        return {"num_tokens": self.num_tokens, "num_labels": self.num_labels,
                "factor_dim": self.factor_dim, "init_scale": self.init_scale}

    def forward(self, labels: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Scores of lists: ``labels`` (B,) long, ``tokens`` (B, n) long -> (B, n)."""
        q = self.label_factors[labels]                       # (B, k)
        p = self.token_factors[tokens]                       # (B, n, k)
        dots = torch.einsum("bnk,bk->bn", p, q)
        return dots + self.token_bias[tokens] + self.label_bias[labels][:, None]

    def score_matrix(self, labels: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """(len(labels), len(tokens)) scores of every label against every token (all V when
        ``tokens`` is None); ``labels`` and ``tokens`` are 1-D long."""
        p = self.token_factors if tokens is None else self.token_factors[tokens]
        bv = self.token_bias if tokens is None else self.token_bias[tokens]
        return self.label_factors[labels] @ p.T + bv[None, :] + self.label_bias[labels][:, None]

    def save(self, path: str | Path) -> Path:
        """Write ``l2r.safetensors`` (weights) and ``l2r.json`` (config) under directory
        ``path`` (created). No pickle."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        ckpt.save_tensors(out / TENSORS_FILE, self.state_dict())
        ckpt.write_json(out / META_FILE, {"format": "labelwise.plant.L2RModel",
                                          "format_version": FORMAT_VERSION,
                                          "config": self.config()})
        return out

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> L2RModel:
        """Rebuild a model written by :meth:`save` from directory ``path``."""
        folder = Path(path)
        info = ckpt.read_versioned_json(folder / META_FILE, "labelwise.plant.L2RModel",
                                        FORMAT_VERSION, "an L2R model")
        model = cls(**info["config"])
        ckpt.load_state_checked(model, ckpt.load_tensors(folder / TENSORS_FILE),
                                str(folder / TENSORS_FILE))
        return model.to(map_location)


# --------------------------------------------------------------------------- training


@dataclass
class RankLists:
    """Padded per-label lists: ``labels`` (M,) long; ``tokens`` (M, n) long; ``relevance``
    (M, n) float; ``mask`` (M, n) bool."""

    labels: torch.Tensor
    tokens: torch.Tensor
    relevance: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, idx: torch.Tensor) -> RankLists:
        return RankLists(self.labels[idx], self.tokens[idx], self.relevance[idx], self.mask[idx])


def _pad_lists(labels: np.ndarray, toks: Sequence[np.ndarray], rels: Sequence[np.ndarray],
               extra: int = 0) -> RankLists:
    """Pad lists to the longest one plus ``extra`` empty slots (for negatives)."""
    width = max((len(t) for t in toks), default=0) + extra
    m = len(toks)
    tok = np.zeros((m, max(width, 1)), dtype=np.int64)
    rel = np.zeros((m, max(width, 1)), dtype=np.float32)
    msk = np.zeros((m, max(width, 1)), dtype=bool)
    for i, (t, r) in enumerate(zip(toks, rels, strict=True)):
        tok[i, : len(t)] = t
        rel[i, : len(t)] = r
        msk[i, : len(t)] = True
    return RankLists(torch.from_numpy(np.asarray(labels, dtype=np.int64)), torch.from_numpy(tok),
                     torch.from_numpy(rel), torch.from_numpy(msk))


def _fill_negatives(lists: RankLists, num_neg: int, num_tokens: int, positive_keys: np.ndarray, rng: np.random.Generator) -> RankLists:
    """Copy of ``lists`` whose last ``num_neg`` columns hold uniformly sampled tokens with
    relevance 0; a sample that is one of the label's MIG tokens (``positive_keys``: sorted
    ``label * V + token``) is masked out instead of resampled."""
    if num_neg == 0:
        return lists
    m = len(lists)
    neg = rng.integers(0, num_tokens, size=(m, num_neg), dtype=np.int64)
    keys = lists.labels.numpy()[:, None] * num_tokens + neg
    pos = np.searchsorted(positive_keys, keys)
    hit = (pos < positive_keys.size) & (positive_keys[np.minimum(pos, positive_keys.size - 1)]
                                        == keys)
    tok, rel, msk = lists.tokens.clone(), lists.relevance.clone(), lists.mask.clone()
    width = tok.shape[1]
    start = width - num_neg
    tok[:, start:] = torch.from_numpy(neg)
    rel[:, start:] = 0.0
    msk[:, start:] = torch.from_numpy(~hit)
    return RankLists(lists.labels, tok, rel, msk)


@dataclass
class _Split:
    train: RankLists          # positives of the training part, ``negatives`` empty slots
    train_eval: RankLists     # same positives, fixed negatives (for the train NDCG)
    heldout: RankLists | None  # held-out positives with fixed negatives
    keys: np.ndarray          # sorted label * V + token of every MIG entry


def _build_lists(table: MigTable, num_grades: int, negatives: int, valid_fraction: float,
                 rng: np.random.Generator) -> _Split:
    lengths = table.row_lengths()
    grades = rank_grades(lengths, num_grades)
    used = np.flatnonzero(lengths > 0)
    keys = np.sort(np.repeat(np.arange(table.num_labels, dtype=np.int64), lengths)
                   * table.num_tokens + table.tokens.astype(np.int64))
    tr_t: list[np.ndarray] = []
    tr_r: list[np.ndarray] = []
    ho_l: list[int] = []
    ho_t: list[np.ndarray] = []
    ho_r: list[np.ndarray] = []
    for lab in used:
        a, b = int(table.indptr[lab]), int(table.indptr[lab + 1])
        toks = table.tokens[a:b].astype(np.int64)
        rels = grades[a:b]
        n = b - a
        n_hold = int(math.floor(valid_fraction * n)) if n >= 2 else 0
        n_hold = min(n_hold, n - 1)
        perm = rng.permutation(n)
        hold, keep = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
        tr_t.append(toks[keep])
        tr_r.append(rels[keep])
        if n_hold:
            ho_l.append(int(lab))
            ho_t.append(toks[hold])
            ho_r.append(rels[hold])
    train = _pad_lists(used, tr_t, tr_r, negatives)
    train_eval = _fill_negatives(train, negatives, table.num_tokens, keys, rng)
    heldout = None
    if ho_l:
        ho = _pad_lists(np.asarray(ho_l), ho_t, ho_r, negatives)
        heldout = _fill_negatives(ho, negatives, table.num_tokens, keys, rng)
    return _Split(train, train_eval, heldout, keys)


@torch.no_grad()
def evaluate_ndcg(model: L2RModel, lists: RankLists, k: int, batch_labels: int = 1024) -> float:
    """Mean NDCG@k over the lists (lists of zero ideal DCG left out; NaN if none)."""
    was_training = model.training
    model.eval()
    device = model.token_factors.device
    vals: list[torch.Tensor] = []
    for s in range(0, len(lists), batch_labels):
        part = lists.take(torch.arange(s, min(s + batch_labels, len(lists))))
        scores = model(part.labels.to(device), part.tokens.to(device))
        vals.append(ndcg_at_k(scores, part.relevance.to(device), k, part.mask.to(device),
                              reduction="none").cpu())
    model.train(was_training)
    allv = torch.cat(vals) if vals else torch.zeros(0)
    allv = allv[~torch.isnan(allv)]
    return float(allv.mean()) if allv.numel() else math.nan


def train_l2r(
    table: MigTable,
    factor_dim: int = 400,
    epochs: int = 10,
    lr: float = 1e-2,
    batch_labels: int = 64,
    k: int = 10,
    sigma: float = 0.5,
    negatives: int = 20,
    seed: int = 0,
    valid_fraction: float = 0.2,
    num_grades: int = 4,
    weight_decay: float = 0.0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[L2RModel, dict[str, Any]]:
    """Train an :class:`L2RModel` on the MIG lists of ``table`` with LambdaRank.

    Each label with a non-empty list gives one ranking list: its MIG tokens with rank-based
    grades (:func:`rank_grades`) plus ``negatives`` tokens sampled uniformly each epoch
    (relevance 0; a sample that is one of the label's MIG tokens is masked out). A fraction
    ``valid_fraction`` of every list (of length >= 2; at least one token stays in training)
    is held out before training; the held-out tokens, with ``negatives`` fixed sampled
    negatives, form the held-out lists whose NDCG@k measures how well the factors
    generalise to (token, label) pairs never trained on. Grades are computed on the full
    list, before the split.

    Adam over shuffled batches of ``batch_labels`` lists. Deterministic given ``seed`` on
    CPU (numpy and torch generators are local to the call).

    Returns:
        ``(model, metrics)``; metrics holds ``initial_train_ndcg`` / ``initial_heldout_ndcg``
        (untrained model) and per epoch lists ``loss``, ``train_ndcg``, ``heldout_ndcg``
        (NDCG@k; NaN when nothing is held out), plus ``k``.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if negatives < 0:
        raise ValueError(f"negatives must be >= 0, got {negatives}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    split = _build_lists(table, num_grades, negatives, valid_fraction, rng)
    model = L2RModel(table.num_tokens, table.num_labels, factor_dim, seed=seed).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def held() -> float:
        return evaluate_ndcg(model, split.heldout, k) if split.heldout is not None else math.nan

    metrics: dict[str, Any] = {
        "k": k,
        "num_lists": len(split.train),
        "num_heldout_lists": 0 if split.heldout is None else len(split.heldout),
        "initial_train_ndcg": evaluate_ndcg(model, split.train_eval, k),
        "initial_heldout_ndcg": held(),
        "loss": [], "train_ndcg": [], "heldout_ndcg": [],
    }
    model.train()
    for epoch in range(epochs):
        lists = _fill_negatives(split.train, negatives, table.num_tokens, split.keys, rng)
        order = torch.randperm(len(lists), generator=gen)
        total, batches = 0.0, 0
        for s in range(0, len(lists), batch_labels):
            part = lists.take(order[s : s + batch_labels])
            scores = model(part.labels.to(device), part.tokens.to(device))
            loss = lambdarank_loss(scores, part.relevance.to(device), k, sigma,
                                   part.mask.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            batches += 1
        metrics["loss"].append(total / max(batches, 1))
        metrics["train_ndcg"].append(evaluate_ndcg(model, split.train_eval, k))
        metrics["heldout_ndcg"].append(held())
        if progress:
            print(f"epoch {epoch + 1}/{epochs}: loss {metrics['loss'][-1]:.4f} "
                  f"train ndcg@{k} {metrics['train_ndcg'][-1]:.4f} "
                  f"heldout ndcg@{k} {metrics['heldout_ndcg'][-1]:.4f}", flush=True)
    model.eval()
    return model, metrics
