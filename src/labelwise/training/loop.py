"""The one training loop: AdamW, warm-up and decay, clipping, evaluation, early stopping,
checkpoints that resume exactly at an evaluation point.

Resuming is exact because each epoch's batch order comes from ``(seed, epoch)`` and the
torch RNG state is saved with the optimizer: a resumed run skips the batches already done.
The loop touches the model only through ``forward_docs`` and a loss, so wrapping the model
in DistributedDataParallel later changes no line here but the sampler.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise.config import TrainConfig
from labelwise.training.dataset import EncodedSet, forward_docs, two_views
from labelwise.training.log import RunLogger, make_progress
from labelwise.training.optim import build_optimizer, lr_factor

LOWER_IS_BETTER = {"hamming_loss", "loss"}


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. the loss became NaN)."""


class Trainer:
    """Trains ``model`` with ``loss_fn`` on an :class:`EncodedSet`.

    ``evaluate()`` returns validation metrics for the model as it is; ``primary`` names the
    one that picks the best weights and drives early stopping.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: torch.nn.Module,
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
        attach = getattr(loss_fn, "attach", None)
        if callable(attach):  # e.g. a momentum copy of the model (ABALONE's queue)
            attach(model)
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
        # contrastive losses compare two dropout views of each text
        contrastive = bool(getattr(loss_fn, "contrastive", getattr(loss_fn, "needs_embeddings", False)))
        self.views = cfg.contrastive_views if contrastive else 1

    # ------------------------------------------------------------------ public
    def fit(self, train: EncodedSet, resume: bool = False) -> dict[str, Any]:
        cfg = self.cfg
        per_epoch = train.num_batches(cfg.batch_size)
        total = min(cfg.max_steps or math.inf, cfg.epochs * per_epoch)
        total = int(total)
        warmup = int(cfg.warmup_ratio * total)
        eval_every = cfg.eval_every or per_epoch
        if resume:
            self._load_resume_state()
        else:
            torch.manual_seed(cfg.seed)
        logger = RunLogger(self.run_dir, cfg.tensorboard)
        base_lrs = self.base_lrs
        st = self.state
        t0 = time.perf_counter()
        with make_progress(cfg.progress) as progress:
            task = progress.add_task("train", total=total, completed=st["step"], info="")
            while not st["done"] and st["step"] < total:
                rng = np.random.default_rng([cfg.seed, st["epoch"]])
                self.model.train()
                self.loss_fn.train()
                done = st["step_in_epoch"]  # batches of this epoch finished before a resume
                batches = train.batches(cfg.batch_size, True, rng, skip=done)
                for i, (_, batch) in enumerate(batches, start=done):
                    f = lr_factor(st["step"], total, warmup, cfg.schedule)
                    for g, lr in zip(self.optimizer.param_groups, base_lrs, strict=True):
                        g["lr"] = lr * f
                    loss_out = self._step(batch.to(self.device))
                    st["step"] += 1
                    st["step_in_epoch"] = i + 1
                    loss = float(loss_out.total.detach())
                    progress.update(task, advance=1, info=f"epoch {st['epoch'] + 1} loss {loss:.4f}")
                    if st["step"] % cfg.log_every == 0:
                        parts = {k: float(v) for k, v in loss_out.parts.items()}
                        logger.log("train", st["step"], {"loss": loss, "lr": base_lrs[0] * f, **parts})
                    last = st["step"] >= total
                    if st["step"] % eval_every == 0 or last or i + 1 == per_epoch:
                        if i + 1 == per_epoch:
                            st["epoch"], st["step_in_epoch"] = st["epoch"] + 1, 0
                        self._evaluate_and_save(logger, progress)
                        self.model.train()
                    if last or st["done"]:
                        break
        st["train_seconds"] = st.get("train_seconds", 0.0) + time.perf_counter() - t0
        logger.close()
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return st

    # ------------------------------------------------------------------ internals
    def _step(self, batch: Any) -> Any:
        before = getattr(self.loss_fn, "before_loss", None)
        if callable(before):
            before(batch)
        if self.views == 2:
            batch = two_views(batch)
        out = forward_docs(self.model, batch)
        loss_out = self.loss_fn(out, batch.targets)
        if not torch.isfinite(loss_out.total):
            raise TrainingError(
                f"the loss became {float(loss_out.total.detach())} at step {self.state['step'] + 1}; "
                "training stopped and the last good checkpoint was kept. Lower train.lr or "
                "check the data for empty texts or extreme label imbalance."
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss_out.total.backward()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        after = getattr(self.loss_fn, "after_step", None)
        if callable(after):
            after(self.model)
        return loss_out

    def _evaluate_and_save(self, logger: RunLogger, progress: Any) -> None:
        st = self.state
        metrics = self.evaluate() if self.evaluate is not None else {}
        value = metrics.get(self.primary)
        improved = False
        if value is not None:
            sign = -1.0 if self.primary in LOWER_IS_BETTER else 1.0
            improved = st["best"] is None or sign * value > sign * st["best"] + 1e-12
        else:
            improved = True  # no validation: the latest weights are the ones we keep
        if improved:
            st["best"], st["best_step"], st["bad_evals"] = value, st["step"], 0
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            st["bad_evals"] += 1
            if self.cfg.patience is not None and st["bad_evals"] >= self.cfg.patience:
                st["done"] = True
        st["history"].append({"step": st["step"], "epoch": st["epoch"], **metrics})
        logger.log("eval", st["step"], metrics)
        if metrics:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in list(metrics.items())[:4])
            progress.console.print(f"step {st['step']}: {shown}" + (" (best)" if improved else ""))
        self._save(improved)

    def _save(self, improved: bool) -> None:
        """Write a checkpoint that ``--resume`` can continue from, crash-safely.

        Files are never overwritten in place: the weights, optimizer (with the RNG) and loss
        state of this evaluation go to ``checkpoints/step-N/`` (the best weights to
        ``checkpoints/best-N.safetensors``), and only then ``trainer_state.json`` is
        replaced, atomically, naming them. A kill at any moment leaves the previous state
        with the files it names, or the new one with its files; never a state pointing at
        newer weights. Files no state names any more are removed afterwards.
        """
        if self.run_dir is None:
            return
        st = self.state
        step = st["step"]
        files = dict(st.get("files") or {})
        if improved:
            files["best"] = f"{CHECKPOINTS}/best-{step:09d}.safetensors"
            ckpt.save_tensors(self.run_dir / files["best"], self.model.state_dict())
        folder = f"{CHECKPOINTS}/step-{step:09d}"
        files["last"] = f"{folder}/last.safetensors"
        ckpt.save_tensors(self.run_dir / files["last"], self.model.state_dict())
        if self.loss_has_state:
            files["loss_state"] = f"{folder}/loss_state.safetensors"
            ckpt.save_tensors(self.run_dir / files["loss_state"], self.loss_fn.state_dict())
        tensors, meta = ckpt.optimizer_to_files(self.optimizer)
        tensors["__torch_rng__"] = torch.get_rng_state()
        files["optimizer"] = f"{folder}/optimizer.safetensors"
        ckpt.save_tensors(self.run_dir / files["optimizer"], tensors)
        st["files"] = files
        ckpt.write_json(self.run_dir / "trainer_state.json", {**st, "optimizer": meta})  # commit
        _remove_unnamed(self.run_dir / CHECKPOINTS, {self.run_dir / f for f in files.values()})

    def _load_resume_state(self) -> None:
        if self.run_dir is None:
            raise ValueError("resuming needs a run directory")
        saved = ckpt.read_json(self.run_dir / "trainer_state.json")
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
        torch.set_rng_state(tensors.pop("__torch_rng__"))
        ckpt.optimizer_from_files(self.optimizer, tensors, meta)
        self.state.update(saved)
        if "best" in files:
            self.best_weights = ckpt.load_tensors(path("best"))

    def checkpoint_file(self, key: str) -> Path | None:
        """The file of the latest checkpoint for ``key`` ("last", "best", "optimizer",
        "loss_state"), or None."""
        name = (self.state.get("files") or {}).get(key)
        return None if name is None or self.run_dir is None else self.run_dir / name


CHECKPOINTS = "checkpoints"


def checkpoint_files(run_dir: Path) -> dict[str, Path]:
    """The checkpoint files the run's ``trainer_state.json`` names, by key."""
    saved = ckpt.read_json(run_dir / "trainer_state.json")
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
