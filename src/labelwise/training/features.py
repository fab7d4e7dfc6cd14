"""Training a head on cached features when the encoder is frozen.

A frozen encoder (e.g. MiniLM with ``freeze: true``) runs in eval mode without gradient,
so its output for a document never changes: computing it once and training the head on
the stored vectors gives the same model as running the encoder every epoch, for a
fraction of the time. A linear probe (``train.freeze_encoder``, e.g. after contrastive
pre-training) is cached the same way: the encoder's features are taken in eval mode, as
at prediction, instead of under a fresh dropout mask each epoch. It applies when the head reads only the pooled vector, no
projection is trained and documents are not read in chunks (chunk logits are pooled after
the head, so a per-document feature would not be the same model).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from labelwise.training.dataset import EncodedSet
from labelwise.types import EncoderOutput, ModelOutput


def can_cache_features(model: nn.Module, chunked: bool, probe: bool = False, loss: nn.Module | None = None) -> bool:
    """Whether ``model`` (a Classifier) can train its head on cached pooled vectors: ``probe``,
    the training stage keeps the encoder fixed (``train.freeze_encoder``); ``loss``, the
    stage's loss, where a projection left by contrastive pre-training is not trained when
    the loss reads logits alone."""
    encoder, head = getattr(model, "encoder", None), getattr(model, "head", None)
    reads_embeddings = loss is None or getattr(loss, "needs_embeddings", False) or getattr(loss, "contrastive", False)
    return (
        (probe or bool(getattr(encoder, "frozen", False)))
        and bool(getattr(head, "pooled_only", False))
        and (getattr(model, "projection", None) is None or not reads_embeddings)
        and not chunked
    )


def encode_pooled(
    model: nn.Module,
    data: EncodedSet,
    batch_size: int,
    device: torch.device,
    on_batch: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """The encoder's pooled vector of every (single-chunk) document: (N, d) float32."""
    model.eval()
    feats: torch.Tensor | None = None
    with torch.inference_mode():
        for idx, batch in data.batches(batch_size, shuffle=False):
            b = batch.to(device)
            pooled = model.encode(b.input_ids, b.attention_mask).pooled  # type: ignore[operator]
            if feats is None:
                feats = torch.zeros(len(data), pooled.shape[1])
            feats[torch.as_tensor(idx)] = pooled.float().cpu()
            if on_batch is not None:
                on_batch(len(idx))
    if feats is None:
        raise ValueError("nothing to encode: the input has no documents")
    return feats


def feature_rows(data: EncodedSet) -> EncodedSet:
    """The same documents and targets, each "token sequence" now just its row number."""
    return EncodedSet([[[i]] for i in range(len(data))], data.targets, pad_id=0)


class HeadOnFeatures(nn.Module):
    """Stands in for the classifier while only its head trains: the input ids are row
    numbers into ``features`` (N, d). The head is shared, not copied, so the classifier
    holds the trained head afterwards; its state-dict keys (``head.*``) match the
    classifier's. The features are a plain attribute, not a buffer, so checkpoints
    written meanwhile hold only the head."""

    def __init__(self, head: nn.Module, features: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        self.features = features

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ModelOutput:
        rows = input_ids[:, 0].cpu()  # (B,)
        pooled = self.features[rows].to(input_ids.device)  # (B, d)
        mask = torch.ones(pooled.shape[0], 1, dtype=torch.bool, device=pooled.device)
        out: ModelOutput = self.head(EncoderOutput(pooled[:, None, :], mask, pooled))
        out.pooled = pooled
        return out
