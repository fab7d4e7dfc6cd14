"""The kinds of model behind :class:`~labelwise.estimator.TextClassifier`, one protocol
(:class:`~labelwise.backends.base.Backend`): the TF-IDF linear model and the neural network."""

from __future__ import annotations

from labelwise.backends.base import Backend, FitContext, Split
from labelwise.backends.fusion import FusionBackend
from labelwise.backends.linear import LinearBackend
from labelwise.backends.neural import NeuralBackend, pick_device
from labelwise.config import Config

# model.type -> the backend class
BACKENDS: dict[str, type[LinearBackend] | type[NeuralBackend] | type[FusionBackend]] = {
    "linear": LinearBackend,
    "neural": NeuralBackend,
    "fusion": FusionBackend,
}


def make_backend(cfg: Config) -> Backend:
    """The backend ``cfg.model.type`` names, unfitted."""
    return BACKENDS[cfg.model.type](cfg)


__all__ = ["BACKENDS", "Backend", "FitContext", "FusionBackend", "LinearBackend", "NeuralBackend", "Split",
           "make_backend", "pick_device"]
