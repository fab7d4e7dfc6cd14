"""The one training loop: AdamW, warm-up and decay, clipping, evaluation, early stopping,
checkpoints that resume exactly at an evaluation point.

Resuming is exact because each epoch's batch order comes from ``(seed, epoch)`` and the
torch RNG state is saved with the optimizer: a resumed run skips the batches already done.

Under ``torchrun`` (:mod:`labelwise.distributed`) every process runs this loop on its
slice of each batch with the model wrapped in DistributedDataParallel; the global batch,
the steps and (for losses that are means over documents) the gradients are those of one
process. Validation, early stopping and the loss that is logged are the same on every
process; only rank 0 writes the run directory and prints.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise import distributed, rundir
from labelwise.config import TrainConfig
from labelwise.errors import UserError
from labelwise.losses.base import Loss
from labelwise.metrics.names import greater_is_better
from labelwise.models.heads.label_subset import (
    check_label_subset_training,
    sample_labels,
    scoring_labels,
)
from labelwise.models.length_groups import forward_grouped
from labelwise.progress import make_progress
from labelwise.training.dataset import (
    EncodedSet,
    forward_docs,
    two_views,
)
from labelwise.training.log import RunLogger
from labelwise.training.optim import build_optimizer, lr_factor
from labelwise.training.parallel import wrap_ddp
from labelwise.types import Batch, LossOutput, ModelOutput


class TrainingError(UserError):
    """Training cannot go on under these settings (e.g. the loss became NaN)."""


def slice_documents(batch: Batch, k: int) -> list[tuple[Batch, float]]:
    """``batch`` as up to ``k`` batches of consecutive documents (sizes as ``np.array_split``)
    with each one's share of the documents; a document's chunks stay together."""
    n = batch.num_docs
    out = []
    bounds = np.cumsum([0, *(len(a) for a in np.array_split(np.arange(n), min(k, n)))])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if batch.doc_index is None:
            rows = slice(int(a), int(b))
            doc_index = None
        else:
            starts = torch.searchsorted(batch.doc_index, torch.tensor([int(a), int(b)]))
            rows = slice(int(starts[0]), int(starts[1]))
            doc_index = batch.doc_index[rows] - int(a)
        targets = None if batch.targets is None else batch.targets[int(a):int(b)]
        cands = None if batch.candidates is None else batch.candidates[int(a):int(b)]
        out.append((Batch(batch.input_ids[rows], batch.attention_mask[rows], targets, doc_index, cands),
                    (b - a) / n))
    return out


def _add_weighted(acc: LossOutput | None, part: LossOutput, weight: float) -> LossOutput:
    """``acc + weight * part``, term by term (the loss of a step run in slices)."""
    if acc is None and weight == 1.0:
        return part
    total = part.total * weight
    parts = {k: v * weight for k, v in part.parts.items()}
    if acc is None:
        return LossOutput(total, parts)
    return LossOutput(acc.total + total, {k: acc.parts.get(k, 0) + v for k, v in parts.items()})


class Trainer:
    """Trains ``model`` with ``loss_fn`` on an :class:`EncodedSet`.

    ``evaluate()`` returns validation metrics for the model as it is; ``primary`` names the
    one that picks the best weights and drives early stopping. Under ``torch.distributed``
    every process calls it at the same steps and it must return the same metrics on
    every process (the backend's shards the predictions and gathers them).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Loss,
        cfg: TrainConfig,
        device: torch.device,
        run_dir: Path | None = None,
        evaluate: Callable[[], dict[str, float]] | None = None,
        primary: str = "loss",
    ) -> None:
        self.model, self.loss_fn, self.cfg, self.device = model, loss_fn, cfg, device
        self.run_dir, self.evaluate, self.primary = run_dir, evaluate, primary
        # a loss may own parameters (MLCL's projection heads, ABALONE's prototypes): they
        # train with the model and their state is checkpointed beside it
        loss_fn.attach(model)  # e.g. a momentum copy of the model (ABALONE's queue)
        self.loss_has_state = len(loss_fn.state_dict()) > 0
        self.optimizer = build_optimizer(torch.nn.ModuleDict({"model": model, "loss": loss_fn}), cfg)
        # the schedule scales these; read them now, before a resumed optimizer state
        # replaces each group's lr with the last scheduled value
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.state: dict[str, Any] = {
            "step": 0, "epoch": 0, "step_in_epoch": 0, "best": None, "best_step": None,
            "bad_evals": 0, "done": False, "history": [],
        }
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._best_unsaved = False  # best weights newer than the last checkpoint's
        self._last_save = time.perf_counter()
        self._seconds_before, self._t0 = 0.0, time.perf_counter()  # reset by _train
        # contrastive losses compare two dropout views of each text
        self.views = cfg.contrastive_views if loss_fn.contrastive else 1
        self.dist = distributed.info()
        # what forward runs: the model, or during fit() its DistributedDataParallel wrapper
        self.net: torch.nn.Module = model
        # a loss's own parameters are not in DDP: their gradients are averaged by hand
        self.loss_params = [p for p in loss_fn.parameters() if p.requires_grad]
        if cfg.label_sample is not None:
            check_label_subset_training(self._head(), self.loss_fn, "train.label_sample")
        if cfg.grad_accum > 1 and self.dist.enabled:
            raise ValueError("train.grad_accum runs one process's batch in slices; with several "
                             "processes, raise the number of processes or lower train.batch_size instead")

    def _head(self) -> torch.nn.Module:
        head = getattr(self.model, "head", self.model)
        assert isinstance(head, torch.nn.Module)
        return head

    def _sampled_labels(self, batch: Any) -> torch.Tensor | None:
        """This step's label ids under ``train.label_sample`` or a shortlist (the batch's
        ``candidates``); None: every label. The draw depends only on the seed, the step and
        the process, so a resumed run repeats it."""
        budget = self.cfg.label_sample
        if (budget is None and batch.candidates is None) or batch.targets is None or batch.targets.dim() != 2:
            return None
        gen = torch.Generator().manual_seed(
            (self.cfg.seed * 1_000_003 + self.state["step"]) * 131 + self.dist.rank
        )
        return sample_labels(batch.targets, budget, gen, batch.candidates)

    # ------------------------------------------------------------------ public
    def fit(self, train: EncodedSet, resume: bool = False) -> dict[str, Any]:
        cfg = self.cfg
        rank, world = self.dist.rank, self.dist.world_size
        per_epoch = train.num_batches(cfg.batch_size, world)
        if per_epoch == 0 and world > 1:
            raise ValueError(
                f"{len(train)} training documents cannot be shared by {world} processes; "
                "train with fewer processes"
            )
        total = min(cfg.max_steps or math.inf, cfg.epochs * per_epoch)
        total = int(total)
        warmup = int(cfg.warmup_ratio * total)
        eval_every = cfg.eval_every or per_epoch
        if resume:
            self._load_resume_state()
        else:
            torch.manual_seed(cfg.seed + rank)  # rank 0 draws what one process would
        try:
            self.net = self._wrap()
            self._train(train, total, warmup, eval_every, per_epoch)
        finally:
            self._unwrap()
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return self.state

    def _train(self, train: EncodedSet, total: int, warmup: int, eval_every: int, per_epoch: int) -> None:
        cfg, main = self.cfg, self.dist.is_main
        rank, world = self.dist.rank, self.dist.world_size
        logger = RunLogger(self.run_dir if main else None, cfg.tensorboard)
        base_lrs = self.base_lrs
        st = self.state
        # seconds in this loop, kept current in every checkpoint, so a run resumed after a
        # kill counts the time of its earlier processes up to their last checkpoint
        self._seconds_before, self._t0 = st.get("train_seconds", 0.0), time.perf_counter()
        with make_progress(cfg.progress and main) as progress:
            task = progress.add_task("train", total=total, completed=st["step"], info="")
            while not st["done"] and st["step"] < total:
                rng = np.random.default_rng([cfg.seed, st["epoch"]])
                self.net.train()
                self.loss_fn.train()
                done = st["step_in_epoch"]  # batches of this epoch finished before a resume
                batches = train.process_batches(cfg.batch_size, rng, done, rank, world)
                for i, (idx, batch, batch_docs) in enumerate(batches, start=done):
                    f = lr_factor(st["step"], total, warmup, cfg.schedule)
                    for g, lr in zip(self.optimizer.param_groups, base_lrs, strict=True):
                        g["lr"] = lr * f
                    loss_out = self._step(batch.to(self.device), len(idx) / batch_docs)
                    st["step"] += 1
                    st["step_in_epoch"] = i + 1
                    loss = float(loss_out.total.detach())
                    progress.update(task, advance=1, info=f"epoch {st['epoch'] + 1} loss {loss:.4f}")
                    if st["step"] % cfg.log_every == 0:
                        parts = {k: float(v) for k, v in loss_out.parts.items()}
                        logger.log("train", st["step"], {"loss": loss, "lr": base_lrs[0] * f, **parts})
                    last = st["step"] >= total
                    end_of_epoch = i + 1 == per_epoch
                    if end_of_epoch:
                        st["epoch"], st["step_in_epoch"] = st["epoch"] + 1, 0
                    # every eval_every steps (default: each epoch's end) and at the last step
                    if st["step"] % eval_every == 0 or last or (end_of_epoch and cfg.eval_every is None):
                        self._evaluate_and_save(logger, progress, last)
                        self.net.train()
                    if last or st["done"]:
                        break
        st["train_seconds"] = self._train_seconds()
        logger.close()

    # ------------------------------------------------------------------ internals
    def _train_seconds(self) -> float:
        """Seconds in the loop so far, earlier processes' (up to their last checkpoint) included."""
        return self._seconds_before + time.perf_counter() - self._t0

    def _wrap(self) -> torch.nn.Module:
        """The model in DistributedDataParallel when distributed, else the model."""
        if not self.dist.enabled or not any(p.requires_grad for p in self.model.parameters()):
            return self.model
        return wrap_ddp(self.model, self.device)

    def _unwrap(self) -> None:
        """Drop the DDP wrapper, so that its gradient hooks leave the model's parameters
        (a later Trainer on the same model, e.g. after pre-training, wraps it again)."""
        if self.net is not self.model:
            self.net = self.model
            gc.collect()

    def train_step(self, batch: Batch) -> LossOutput:
        """One optimizer step on ``batch``, exactly as the loop takes it (the loss's hooks,
        dropout views, label sampling, clipping), without the schedule or evaluation: what
        ``labelwise profile --train`` times."""
        return self._step(batch.to(self.device))

    def _step(self, batch: Any, share: float = 1.0) -> LossOutput:
        """One optimizer step on this process's ``batch``, ``share`` of the global batch's
        documents. Returns the loss of the whole global batch (detached).

        With ``train.grad_accum`` = k the batch runs as k slices of its documents, each
        slice's loss weighted by its share of the documents and its gradients added up, so
        the step is the one the whole batch gives (for losses that are means over documents)
        with the activations of one slice in memory at a time."""
        accum = self.cfg.grad_accum
        pieces = [(batch, 1.0)] if accum == 1 else slice_documents(batch, accum)
        # one label sample per step, from every document of the batch
        labels = None if accum == 1 else self._sampled_labels(two_views(batch) if self.views == 2 else batch)
        self.optimizer.zero_grad(set_to_none=True)
        reported: LossOutput | None = None
        for piece, weight in pieces:
            self.loss_fn.before_loss(piece)
            if self.views == 2:
                piece = two_views(piece)
            if accum == 1:
                labels = self._sampled_labels(piece)
            with scoring_labels(self._head(), labels):
                out = self._forward(piece)
            targets = piece.targets
            if labels is not None:
                assert targets is not None  # labels are sampled from the targets
                targets = targets[:, labels]
            loss_out = self.loss_fn(out, targets)
            part = self._global_loss(loss_out, share)
            if not torch.isfinite(part.total):
                kept = ("the last checkpoint is kept" if self.run_dir is not None and self.state.get("files")
                        else "no checkpoint had been written yet")
                raise TrainingError(
                    f"the loss became {float(part.total)} at step {self.state['step'] + 1}; "
                    f"training stopped and {kept}. Lower train.lr (now {self.cfg.lr:g}) and train "
                    "again (--overwrite), or check the data for extreme label imbalance"
                )
            reported = _add_weighted(reported, part, weight)
            total = loss_out.total * weight if accum > 1 else loss_out.total
            if self.dist.enabled:  # DDP averages over processes: see labelwise.distributed
                total = total * (self.dist.world_size * share)
            total.backward()
        self._average_loss_grads()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.loss_fn.after_step(self.model)
        assert reported is not None
        return reported

    def _forward(self, batch: Batch) -> ModelOutput:
        """The model on a training batch; a head that reads the pooled vector alone runs on
        length groups of the batch (the same output for less padding), except under DDP,
        which expects one forward per backward."""
        if self.net is self.model and getattr(self._head(), "pooled_only", False):
            return forward_grouped(lambda b: forward_docs(self.net, b), batch)
        return forward_docs(self.net, batch)

    def _global_loss(self, loss_out: LossOutput, share: float) -> LossOutput:
        """The loss and its parts for the whole global batch, the same on every process:
        ``sum_r share_r * value_r`` (a mean over documents, or a contrastive term that
        every process computed on the gathered batch, comes out as one process's)."""
        if not self.dist.enabled:
            return LossOutput(loss_out.total.detach(), loss_out.parts)
        keys = list(loss_out.parts)
        values = [loss_out.total, *(loss_out.parts[k] for k in keys)]
        vec = torch.stack([v.detach().float().reshape(()) for v in values]) * share
        vec = distributed.all_reduce_sum(vec)
        return LossOutput(vec[0], dict(zip(keys, vec[1:], strict=True)))

    def _average_loss_grads(self) -> None:
        """Average the gradients of the loss's own parameters over processes, as DDP does
        for the model's (one all-reduce; a parameter without gradient on every process
        keeps none)."""
        if not self.dist.enabled or not self.loss_params:
            return
        params = self.loss_params
        flat = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
        flags = torch.tensor([float(p.grad is not None) for p in params], device=params[0].device)
        vec = distributed.all_reduce_sum(torch.cat([*flat, flags]))
        world = self.dist.world_size
        offset = 0
        for p, has in zip(params, vec[-len(params):].tolist(), strict=True):
            n = p.numel()
            if has > 0:
                p.grad = (vec[offset:offset + n] / world).reshape(p.shape).to(p.dtype)
            offset += n

    def _evaluate_and_save(self, logger: RunLogger, progress: Any, last: bool = False) -> None:
        """Evaluate, keep the best weights, and checkpoint: at every evaluation, or with
        ``train.checkpoint_seconds`` set, when that long has passed since the last checkpoint
        and always after the last step (or an early stop)."""
        st = self.state
        metrics = self.evaluate() if self.evaluate is not None else {}
        value = metrics.get(self.primary)
        improved = False
        if value is not None:
            sign = 1.0 if greater_is_better(self.primary) else -1.0
            improved = st["best"] is None or sign * value > sign * st["best"] + 1e-12
        else:
            improved = True  # no validation: the latest weights are the ones we keep
        if improved:
            st["best"], st["best_step"], st["bad_evals"] = value, st["step"], 0
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self._best_unsaved = True
        else:
            st["bad_evals"] += 1
            if self.cfg.patience is not None and st["bad_evals"] >= self.cfg.patience:
                st["done"] = True
        st["history"].append({"step": st["step"], "epoch": st["epoch"], **metrics})
        st["train_seconds"] = self._train_seconds()
        logger.log("eval", st["step"], metrics)
        if metrics and self.dist.is_main:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:4])
            # one line whatever the width: a log file is not an 80-column terminal
            progress.console.print(f"step {st['step']}: {shown}" + (" (best)" if improved else ""), soft_wrap=True)
        every = self.cfg.checkpoint_seconds
        if last or st["done"] or every is None or time.perf_counter() - self._last_save >= every:
            self._save()

    def _save(self) -> None:
        """Write a checkpoint that ``--resume`` can continue from, crash-safely.

        Files are never overwritten in place: the weights, optimizer (with the RNG) and loss
        state of this evaluation go to ``checkpoints/step-N/`` (the best weights to
        ``checkpoints/best-N.safetensors``, N the step they are from, when they changed since
        the last checkpoint; without validation they are the last weights, one file), and
        only then ``trainer_state.json`` is replaced, atomically, naming them. A kill at any
        moment leaves the previous state with the files it names, or the new one with its
        files; never a state pointing at newer weights. Files no state names any more are removed afterwards.

        Under ``torch.distributed`` rank 0 writes (the model, optimizer and loss are the
        same on every process) with the RNG state of every process, and the others wait.
        """
        if self.run_dir is None:
            return
        st = self.state
        step = st["step"]
        files = dict(st.get("files") or {})
        folder = f"{CHECKPOINTS}/step-{step:09d}"
        files["last"] = f"{folder}/last.safetensors"
        # no validation: every evaluation "improves", so the best weights are the last ones,
        # one file
        same = self.evaluate is None
        if self._best_unsaved:
            files["best"] = files["last"] if same else f"{CHECKPOINTS}/best-{st['best_step']:09d}.safetensors"
        if self.loss_has_state:
            files["loss_state"] = f"{folder}/loss_state.safetensors"
        files["optimizer"] = f"{folder}/optimizer.safetensors"
        st["files"] = files
        rng = torch.get_rng_state()
        rngs = distributed.all_gather_rows(rng[None]) if self.dist.enabled else None
        if self.dist.is_main:
            if self._best_unsaved and not same and self.best_weights is not None:
                ckpt.save_tensors(self.run_dir / files["best"], self.best_weights)
            ckpt.save_tensors(self.run_dir / files["last"], self.model.state_dict())
            if self.loss_has_state:
                ckpt.save_tensors(self.run_dir / files["loss_state"], self.loss_fn.state_dict())
            tensors, meta = ckpt.optimizer_to_files(self.optimizer)
            tensors["__torch_rng__"] = rng
            if rngs is not None:
                tensors[RANK_RNGS] = rngs  # (world, S): each process's RNG
            ckpt.save_tensors(self.run_dir / files["optimizer"], tensors)
            ckpt.write_json(self.run_dir / rundir.TRAINER_STATE, {**st, "optimizer": meta})  # commit
            _remove_unnamed(self.run_dir / CHECKPOINTS, {self.run_dir / f for f in files.values()})
        distributed.barrier()
        self._best_unsaved = False
        self._last_save = time.perf_counter()

    def _load_resume_state(self) -> None:
        if self.run_dir is None:
            raise ValueError("resuming needs a run directory")
        saved = ckpt.read_json(self.run_dir / rundir.TRAINER_STATE)
        meta = saved.pop("optimizer")
        files = saved.get("files") or {}
        if "last" not in files:
            raise ckpt.CheckpointError(
                f"{self.run_dir}/trainer_state.json names no checkpoint files (written by an "
                "older labelwise?); start the run again without --resume"
            )
        path = lambda key: self.run_dir / files[key]  # type: ignore[operator]  # noqa: E731
        ckpt.load_state_checked(self.model, ckpt.load_tensors(path("last")), files["last"])
        if self.loss_has_state:
            ckpt.load_state_checked(self.loss_fn, ckpt.load_tensors(path("loss_state")), files["loss_state"])
        tensors = ckpt.load_tensors(path("optimizer"))
        rng = tensors.pop("__torch_rng__")
        rngs = tensors.pop(RANK_RNGS, None)
        if rngs is not None and rngs.shape[0] == self.dist.world_size:
            rng = rngs[self.dist.rank].clone()  # the same number of processes: each its own
        elif self.dist.rank > 0:  # saved by another number of processes: a stream of its own
            rng = torch.Generator().manual_seed(self.cfg.seed + self.dist.rank).get_state()
        torch.set_rng_state(rng)
        ckpt.optimizer_from_files(self.optimizer, tensors, meta)
        self.state.update(saved)
        if "best" in files:
            self.best_weights = ckpt.load_tensors(path("best"))


CHECKPOINTS = rundir.CHECKPOINTS
RANK_RNGS = "__torch_rng_ranks__"


def checkpoint_files(run_dir: Path) -> dict[str, Path]:
    """The checkpoint files the run's ``trainer_state.json`` names, by key."""
    saved = ckpt.read_json(run_dir / rundir.TRAINER_STATE)
    return {k: run_dir / v for k, v in (saved.get("files") or {}).items()}


def _remove_unnamed(folder: Path, keep: set[Path]) -> None:
    """Delete checkpoint files (and leftovers of interrupted writes) not in ``keep``."""
    if not folder.is_dir():
        return
    for p in sorted(folder.rglob("*"), reverse=True):  # files before their folders
        if p.is_file() and p not in keep:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
