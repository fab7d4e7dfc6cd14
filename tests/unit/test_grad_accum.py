"""train.grad_accum: a batch run in slices gives the step the whole batch gives."""

from __future__ import annotations

import copy

import pytest
import torch

from labelwise.config import TrainConfig
from labelwise.losses.build import build_loss
from labelwise.models import build_model
from labelwise.training.loop import Trainer, slice_documents
from labelwise.types import Batch

CNN = {"name": "cnn", "embed_dim": 8, "num_filters": 4, "kernel_sizes": [2], "dropout": 0.0}


def _info(task: str, labels: int) -> dict:
    return {"task": task, "num_labels": labels, "train_counts": torch.ones(labels).numpy(), "num_examples": 8,
            "pooled_dim": 4, "embed_dim": 0, "seed": 0}


def _batch(chunked: bool, multilabel: bool) -> Batch:
    g = torch.Generator().manual_seed(0)
    docs = 6
    rows = 10 if chunked else docs
    ids = torch.randint(5, 40, (rows, 7), generator=g)
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, 4:] = False
    doc_index = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 5, 5]) if chunked else None
    targets = (torch.rand(docs, 3, generator=g) < 0.4).float() if multilabel else torch.randint(0, 3, (docs,), generator=g)
    return Batch(ids, mask, targets, doc_index)


def _step(model: torch.nn.Module, batch: Batch, accum: int, loss: str, task: str) -> dict[str, torch.Tensor]:
    """The gradients of one step (Adam's update hardly depends on their scale, so the
    gradients, not the new weights, show that each slice is weighted by its share)."""
    model = copy.deepcopy(model)
    cfg = TrainConfig(lr=0.01, grad_accum=accum, grad_clip=None, progress=False, tensorboard=False)
    trainer = Trainer(model, build_loss({"name": loss}, _info(task, 3)), cfg, torch.device("cpu"))
    reported = trainer.train_step(batch)
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    return {**grads, "loss": reported.total.detach()}


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(("loss", "task"), [("ce", "multiclass"), ("bce", "multilabel")])
def test_slices_give_the_whole_batch_step(chunked: bool, loss: str, task: str) -> None:
    torch.manual_seed(0)
    model = build_model(CNN, {"name": "linear", "dropout": 0.0}, 40, 0, 3)
    batch = _batch(chunked, task == "multilabel")
    whole = _step(model, batch, 1, loss, task)
    for accum in (2, 3, 6):
        sliced = _step(model, batch, accum, loss, task)
        for k in whole:
            torch.testing.assert_close(sliced[k], whole[k], atol=1e-6, rtol=1e-5)


def test_slices_keep_a_documents_chunks_together() -> None:
    batch = _batch(chunked=True, multilabel=False)
    pieces = slice_documents(batch, 4)
    assert [p.num_docs for p, _ in pieces] == [2, 2, 1, 1]
    assert sum(w for _, w in pieces) == pytest.approx(1.0)
    assert torch.equal(torch.cat([p.input_ids for p, _ in pieces]), batch.input_ids)
    assert [p.doc_index.tolist() for p, _ in pieces] == [[0, 0, 1], [0, 0, 0, 1], [0], [0, 0]]
    assert len(slice_documents(batch, 50)) == 6  # never an empty slice
