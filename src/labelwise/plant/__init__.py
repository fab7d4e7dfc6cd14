"""PLANT (planted label-wise attention), the stages before training: token-label
mutual-information gain tables (:mod:`labelwise.plant.mig`), the learning-to-rank model
trained on them with LambdaRank (:mod:`labelwise.plant.l2r`), and the pipeline that runs
both on a run's training set and plants the result into the head
(:mod:`labelwise.plant.pipeline`)."""

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
from labelwise.plant.pipeline import (
    load_stage,
    plant_stage,
    replant,
    special_token_ids,
    stage_done,
)

__all__ = [
    "L2RModel",
    "MigTable",
    "RankLists",
    "compute_mig",
    "evaluate_ndcg",
    "ideal_dcg",
    "lambda_weights",
    "lambdarank_loss",
    "load_stage",
    "mutual_information",
    "ndcg_at_k",
    "occurrence_matrix",
    "plant_stage",
    "rank_grades",
    "replant",
    "special_token_ids",
    "stage_done",
    "train_l2r",
]
