"""The training loop and what it needs: encoded datasets, optimisers, logging."""

from labelwise.training.dataset import EncodedSet, predict_logits
from labelwise.training.loop import Trainer
from labelwise.training.optim import build_optimizer, lr_factor

__all__ = ["EncodedSet", "Trainer", "build_optimizer", "lr_factor", "predict_logits"]
