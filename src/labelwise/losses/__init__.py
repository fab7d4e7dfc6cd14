"""Losses: classification losses on logits and their weighted combination.

Importing this package registers ``ce``, ``bce``, ``focal``, ``asl``, ``hier_softmax``,
``supcon`` and ``combined`` in :data:`labelwise.registry.LOSSES`; build one with
``LOSSES.create("asl", gamma_neg=2)``. The pure tensor functions live in
:mod:`labelwise.losses.functional`.
"""

from labelwise.losses import functional
from labelwise.losses.abalone import AbaloneLoss, abalone_loss
from labelwise.losses.classification import (
    AsymmetricLoss,
    BinaryCrossEntropyLoss,
    ClassificationLoss,
    CrossEntropyLoss,
    FocalLoss,
    HierarchicalSoftmaxLoss,
)
from labelwise.losses.combined import CombinedLoss
from labelwise.losses.functional import (
    asymmetric_loss,
    binary_cross_entropy,
    cross_entropy,
    focal_loss,
    hierarchical_softmax_loss,
)
from labelwise.losses.mlcl import MLCLLoss
from labelwise.losses.supcon import SupConLoss, supcon_loss, two_view_weights

__all__ = [
    "AbaloneLoss",
    "AsymmetricLoss",
    "BinaryCrossEntropyLoss",
    "ClassificationLoss",
    "CombinedLoss",
    "CrossEntropyLoss",
    "FocalLoss",
    "HierarchicalSoftmaxLoss",
    "MLCLLoss",
    "SupConLoss",
    "abalone_loss",
    "asymmetric_loss",
    "binary_cross_entropy",
    "cross_entropy",
    "focal_loss",
    "functional",
    "hierarchical_softmax_loss",
    "supcon_loss",
    "two_view_weights",
]
