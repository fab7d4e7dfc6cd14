"""Build a ``Classifier`` from plain dictionaries (as found in a YAML config)."""

from __future__ import annotations

import copy
from typing import Any

from labelwise.models.classifier import Classifier
from labelwise.models.projection import ProjectionConfig, ProjectionHead
from labelwise.registry import ENCODERS, HEADS, Registry


def _split_name(spec: dict[str, Any], registry: Registry[Any]) -> tuple[str, dict[str, Any]]:
    """``{"name": n, **params}`` -> ``(n, params)``; a missing name is an error."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(
            f"{registry.kind} spec must be a mapping with a 'name' key, got {spec!r}; "
            f"choices: {', '.join(registry.names())}"
        )
    params = dict(spec)
    return str(params.pop("name")), params


def encoder_tokenizer_kind(encoder_name: str) -> str:
    """The tokenizer an encoder expects: "wordpiece" (trained on our data) or "minilm".

    Raises:
        ValueError: unknown encoder name (the message suggests close matches).
    """
    return str(getattr(ENCODERS.get(encoder_name), "tokenizer", "wordpiece"))


def build_model(
    encoder: dict[str, Any],
    head: dict[str, Any],
    vocab_size: int,
    pad_id: int,
    num_labels: int,
    projection: dict[str, Any] | None = None,
) -> Classifier:
    """Build encoder and head from their registered names and validated parameters.

    Args:
        encoder: ``{"name": "transformer", "d_model": 256, ...}``.
        head: ``{"name": "linear", "dropout": 0.1}``.
        vocab_size: size of the tokenizer's vocabulary (ignored by the pretrained encoder).
        pad_id: id of the padding token.
        num_labels: number of outputs L.
        projection: ``ProjectionConfig`` fields (``{"dim": 128}``) for a projection head
            on the pooled vector, as contrastive losses need; None for none.

    Returns:
        A ``Classifier`` whose ``spec`` holds these arguments.

    Raises:
        ValueError: unknown name, unknown or invalid parameter, or a bad size.
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
    enc_name, enc_params = _split_name(encoder, ENCODERS)
    head_name, head_params = _split_name(head, HEADS)
    enc = ENCODERS.create(enc_name, vocab_size, pad_id, **enc_params)
    hd = HEADS.create(head_name, enc.out_dim, num_labels, **head_params)
    proj = None
    if projection is not None:
        proj = ProjectionHead(enc.out_dim, ProjectionConfig.model_validate(projection))
    spec = {
        "encoder": copy.deepcopy(encoder),
        "head": copy.deepcopy(head),
        "vocab_size": vocab_size,
        "pad_id": pad_id,
        "num_labels": num_labels,
        "projection": copy.deepcopy(projection),
    }
    return Classifier(enc, hd, spec=spec, projection=proj)
