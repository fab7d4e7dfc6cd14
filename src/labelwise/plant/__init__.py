"""PLANT (planted label-wise attention), first stages: token-label mutual-information gain
tables (:mod:`labelwise.plant.mig`) and the learning-to-rank model trained on them with
LambdaRank (:mod:`labelwise.plant.l2r`)."""

from __future__ import annotations

from labelwise.plant.l2r import (
    L2RModel,
    RankLists,
    evaluate_ndcg,
    ideal_dcg,
    lambda_weights,
    lambdarank_loss,
    ndcg_at_k,
    rank_grades,
    train_l2r,
)
from labelwise.plant.mig import MigTable, compute_mig, mutual_information, occurrence_matrix

__all__ = [
    "L2RModel",
    "MigTable",
    "RankLists",
    "compute_mig",
    "evaluate_ndcg",
    "ideal_dcg",
    "lambda_weights",
    "lambdarank_loss",
    "mutual_information",
    "ndcg_at_k",
    "occurrence_matrix",
    "rank_grades",
    "train_l2r",
]
