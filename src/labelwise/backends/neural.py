"""The neural backend: a tokenizer and an encoder/head network trained with the labelwise loop.

``fit`` runs the stages of a neural run, top-down:

1. tokenizer: trained on the training texts (WordPiece) or the pretrained encoder's own;
2. build: the network for the tokenizer's vocabulary and the label count;
3. ``head.prepare``: what the head learns before training (PLANT's MIG and L2R stage);
4. shortlist (optional, ``model.shortlist``): the linear model that proposes each
   document's labels (:mod:`labelwise.shortlist`);
5. pre-training (optional, ``pretrain``): the encoder with a loss alone;
6. training: the loop, validating and checkpointing as it goes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise import distributed, rundir
from labelwise.backends.base import FitContext, Split
from labelwise.config import Config, ConfigError, ProjectionConfig
from labelwise.data.tokenize import TextTokenizer
from labelwise.losses.base import Loss
from labelwise.losses.build import build_loss, loss_needs_embeddings
from labelwise.models import build_model, encoder_tokenizer_kind
from labelwise.models.documents import ChunkPooling, set_chunk_pooling
from labelwise.models.heads.base import Head, PrepareData
from labelwise.models.heads.label_subset import check_label_subset_training
from labelwise.models.precision import precision_name, resolve_precision
from labelwise.models.pretrained_models import encoder_folder
from labelwise.progress import make_progress
from labelwise.registry import HEADS
from labelwise.shortlist import Shortlister, recall
from labelwise.training import EncodedSet, Trainer, predict_logits
from labelwise.training.dataset import predict_embeddings
from labelwise.training.features import (
    HeadOnFeatures,
    can_cache_features,
    encode_pooled,
    feature_rows,
)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"train.device '{name}' is not a device: use auto, cpu or cuda[:N]") from None


OWN_TOKENIZER = ("pretrained", "minilm")  # tokenizer kinds that come with a pretrained model


class NeuralBackend:
    """Tokenizer + encoder/head network trained with the labelwise loop."""

    kind = "neural"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.tokenizer: TextTokenizer | None = None
        self.model: torch.nn.Module | None = None
        # under torchrun, this process's own GPU (cuda:LOCAL_RANK)
        self.device = distributed.training_device(pick_device(cfg.train.device))
        self.train_state: dict[str, Any] = {}
        self.pretrain_state: dict[str, Any] = {}
        self.plant_state: dict[str, Any] = {}  # what the head's prepare stage returned
        self.embedding_state: dict[str, Any] = {}  # GloVe coverage, set by build_model
        self.shortlister: Shortlister | None = None  # with model.shortlist
        self.shortlist_state: dict[str, Any] = {}

    # -------------------------------------------------------------- the stages
    def fit(self, train: Split, valid: Split, ctx: FitContext) -> None:
        """Tokenizer -> build -> ``head.prepare`` -> optional pre-training -> training."""
        self.build_tokenizer(train.texts)  # deterministic: the same on every process
        if ctx.run_dir is not None and distributed.is_main():
            self.save_tokenizer(ctx.run_dir)
        self.build_model(len(ctx.labels))
        targets = ctx.task.targets(train.y)
        self.prepare_head(train.texts, targets, ctx)
        if self.cfg.model.shortlist is not None:
            self.fit_shortlist(train, valid, ctx)
        if self.cfg.pretrain is not None:
            self.pretrain(train.texts, targets, build_loss(self.cfg.pretrain.loss, self.loss_info(ctx)),
                          ctx.run_dir, ctx.resume)
        self.train(train.texts, targets, build_loss(self.cfg.loss, self.loss_info(ctx)),
                   valid.texts, ctx)

    def loss_info(self, ctx: FitContext) -> dict[str, Any]:
        """What a loss's ``setup`` hook learns: the task, the label counts, the widths of
        the model's pooled vector and projection, the seed."""
        spec = getattr(self.model, "spec", None) or {}
        return {
            **ctx.task.loss_info(),
            "num_labels": len(ctx.labels),
            "train_counts": np.asarray(ctx.labels.train_counts),
            "num_examples": ctx.labels.num_train_docs,
            "pooled_dim": int(getattr(getattr(self.model, "encoder", None), "out_dim", 0)),
            "embed_dim": int((spec.get("projection") or {}).get("dim", 0)),
            "seed": self.cfg.train.seed,
        }

    # -------------------------------------------------------------- building
    def tokenizer_kind(self) -> str:
        """``wordpiece`` (trained on the training split), or the pretrained model's own
        (``pretrained``; ``minilm`` for the encoders built on MiniLM-L6)."""
        need = encoder_tokenizer_kind(self.cfg.model.encoder["name"])
        kind = self.cfg.tokenizer.kind
        if kind == "auto":
            return need
        if need in OWN_TOKENIZER and kind not in OWN_TOKENIZER:
            raise ValueError(
                f"encoder '{self.cfg.model.encoder['name']}' needs its pretrained model's own tokenizer; "
                f"got tokenizer.kind={kind}. Set tokenizer.kind=auto or pretrained"
            )
        return need if need in OWN_TOKENIZER else kind

    def build_tokenizer(self, train_texts: Sequence[str]) -> None:
        t = self.cfg.tokenizer
        if self.tokenizer_kind() in OWN_TOKENIZER:
            self.tokenizer = TextTokenizer.pretrained(encoder_folder(self.cfg.model.encoder))
        else:
            self.tokenizer = TextTokenizer.train_wordpiece(
                train_texts, t.vocab_size, t.min_frequency, t.lowercase
            )

    def build_model(self, num_labels: int, pretrained_embeddings: bool = True) -> None:
        """Build the network for the tokenizer's vocabulary and ``num_labels`` outputs.

        With ``model.encoder.embeddings: glove`` and ``pretrained_embeddings`` (building
        for training), the encoder's token embeddings are initialised from GloVe for the
        tokenizer's vocabulary (:func:`labelwise.models.glove.embedding_matrix`, seeded by
        ``train.seed``) and the coverage is kept in ``embedding_state``. ``load`` passes
        False: the saved weights already hold the vectors, so GloVe is not read.
        """
        assert self.tokenizer is not None
        if self.cfg.train.num_threads:
            torch.set_num_threads(self.cfg.train.num_threads)
        torch.manual_seed(self.cfg.train.seed)
        m = self.cfg.model
        self.model = build_model(
            m.encoder, self.head_spec(), self.tokenizer.vocab_size, self.tokenizer.pad_id,
            num_labels, projection=self.projection_spec(),
        ).to(self.device)
        if pretrained_embeddings and m.encoder.get("embeddings") == "glove":
            self._load_glove()
        if m.chunk_pooling != "max":
            set_chunk_pooling(self.model, ChunkPooling.of(m))
        self.model.compute_dtype = resolve_precision(self.cfg.train.precision, self.device)
        limit = getattr(self.model.encoder, "max_positions", None)
        if limit is not None and self.cfg.tokenizer.max_length > limit:
            raise ConfigError(
                f"tokenizer.max_length is {self.cfg.tokenizer.max_length}, but the pretrained model reads at "
                f"most {limit} tokens at a time: lower it, and read longer documents with "
                "tokenizer.long_documents: chunk"
            )

    def _load_glove(self) -> None:
        """Copy GloVe vectors for the tokenizer's vocabulary into the encoder's embeddings.

        Tokens are looked up lowercased whatever ``tokenizer.lowercase`` says: GloVe 6B is
        uncased, so a cased ``The`` gets the vector of ``the``.
        """
        from labelwise.models.glove import GLOVE_DIM, embedding_matrix

        assert self.model is not None and self.tokenizer is not None
        encoder = getattr(self.model, "encoder", None)
        load = getattr(encoder, "load_pretrained_embeddings", None)
        if not callable(load):
            raise ValueError(
                f"encoder '{self.cfg.model.encoder['name']}' cannot start from GloVe "
                "embeddings (embeddings: glove); use cnn, bilstm or bigru"
            )
        vocab = self.tokenizer.vocabulary()
        matrix, found = embedding_matrix(vocab, GLOVE_DIM, seed=self.cfg.train.seed, lowercase=True)
        load(torch.from_numpy(matrix))
        self.embedding_state = {
            "embeddings": "glove",
            "glove_found": found,
            "vocab_size": len(vocab),
            "glove_coverage": found / max(1, len(vocab)),
        }

    def head_spec(self) -> dict[str, Any]:
        """The head's fields as configured, completed by the head class with what only the
        data decides (:meth:`Head.complete_spec`)."""
        assert self.tokenizer is not None
        head = dict(self.cfg.model.head)
        cls = HEADS.get(head["name"])
        if isinstance(cls, type) and issubclass(cls, Head):
            head = cls.complete_spec(head, self.tokenizer.vocab_size)
        return head

    def projection_spec(self) -> dict[str, Any] | None:
        """The projection head's fields: as configured, else the defaults when the loss
        contrasts embeddings (decided from the config alone, so loading rebuilds it)."""
        proj = self.cfg.model.projection
        pre = self.cfg.pretrain
        needs = loss_needs_embeddings(self.cfg.loss) or (pre is not None and loss_needs_embeddings(pre.loss))
        if proj is None and needs:
            proj = ProjectionConfig()
        return None if proj is None else proj.model_dump()

    def encode(self, texts: Sequence[str], targets: np.ndarray | None, shortlist: bool = True) -> EncodedSet:
        """Token ids (and ``targets``) of ``texts``, with each text's shortlisted labels
        where the model has a shortlist (and ``shortlist``)."""
        assert self.tokenizer is not None
        candidates = self.shortlister.candidates(texts) if shortlist and self.shortlister is not None else None
        return EncodedSet(self.tokenizer.documents(texts, self.cfg.tokenizer), targets, self.tokenizer.pad_id,
                          candidates)

    # -------------------------------------------------------------- shortlist
    def fit_shortlist(self, train: Split, valid: Split, ctx: FitContext) -> None:
        """Fit (or, resuming, reload) the linear model that proposes each document's labels,
        and record the share of the validation split's true labels its shortlists hold."""
        cfg = self.cfg.model.shortlist
        assert cfg is not None
        where = None if ctx.run_dir is None else ctx.run_dir / rundir.SHORTLIST_DIR
        if ctx.resume and where is not None and (where / rundir.LINEAR_META).is_file():
            self.shortlister = Shortlister.load(where, cfg.size)
            reused = True
        else:
            try:
                self.shortlister = Shortlister.fit(cfg, train.texts, np.asarray(train.y), ctx.task.value,
                                                   seed=self.cfg.train.seed)
            except ValueError as err:
                raise ConfigError(str(err)) from None
            if where is not None and distributed.is_main():
                self.shortlister.save(where)
            reused = False
        self.shortlist_state = {"size": cfg.size, "reused": reused}
        if len(valid.texts):
            got = recall(self.shortlister.candidates(valid.texts), np.asarray(valid.y))
            self.shortlist_state["valid_recall"] = got
            if self.cfg.train.progress and distributed.is_main():
                print(f"labelwise: shortlist: {cfg.size} labels a document hold {got:.1%} of the "
                      "validation split's true labels", file=sys.stderr)

    # -------------------------------------------------------------- training
    def prepare_head(self, train_texts: Sequence[str], train_targets: np.ndarray, ctx: FitContext) -> None:
        """The head's stage before training (:meth:`Head.prepare`; PLANT's MIG and L2R).
        ``train_targets``: (N, L) multi-hot or (N,) class ids.

        Under ``torch.distributed`` every process runs it (it is seeded) and rank 0 writes
        it; DistributedDataParallel then starts every process from rank 0's model.
        """
        assert self.model is not None and self.tokenizer is not None
        head = getattr(self.model, "head", None)
        if not isinstance(head, Head):
            return
        main = distributed.is_main()

        def token_docs() -> list[list[int]]:  # a chunked document's chunks joined
            return [[t for chunk in doc for t in chunk] for doc in self.encode(train_texts, None, shortlist=False).docs]

        self.plant_state = head.prepare(PrepareData(
            token_docs, train_targets, self.tokenizer, settings=self.cfg.plant, run_dir=ctx.run_dir,
            write=main, resume=ctx.resume, seed=self.cfg.train.seed,
            progress=self.cfg.train.progress and main, device=self.device,
        ))
        distributed.barrier()

    def pretrain(
        self,
        train_texts: Sequence[str],
        train_targets: np.ndarray,
        loss_fn: Loss,
        run_dir: Path | None,
        resume: bool = False,
    ) -> None:
        """First stage of a two-stage schedule: ``cfg.pretrain`` epochs with its loss alone,
        no evaluation; checkpoints (and resumes) in ``<run>/pretrain/``."""
        assert self.model is not None and self.cfg.pretrain is not None
        pre = self.cfg.pretrain
        cfg = self.cfg.train.model_copy(update={
            "epochs": pre.epochs, "lr": pre.lr or self.cfg.train.lr, "patience": None,
            "eval_every": None, "max_steps": None, "freeze_encoder": False, "label_sample": None,
        })
        stage_dir = None if run_dir is None else rundir.pretrain_dir(run_dir)
        if stage_dir is not None and distributed.is_main():
            stage_dir.mkdir(parents=True, exist_ok=True)
        resume = resume and rundir.has_trainer_state(stage_dir)
        trainer = Trainer(self.model, loss_fn.to(self.device), cfg, self.device, stage_dir, None, "loss")
        self.pretrain_state = trainer.fit(self.encode(train_texts, train_targets, shortlist=False), resume=resume)

    def train(
        self,
        train_texts: Sequence[str],
        train_targets: np.ndarray,
        loss_fn: Loss,
        valid_texts: Sequence[str] | None,
        ctx: FitContext,
    ) -> None:
        """The training loop on ``train_targets`` (the task's), validating with
        ``ctx.validate`` on ``valid_texts``."""
        assert self.model is not None
        run_dir = ctx.run_dir
        # a run interrupted in an earlier stage (pre-training, PLANT) or before the loop's
        # first checkpoint starts the loop afresh
        resume = ctx.resume and rundir.has_trainer_state(run_dir)
        if self.shortlister is not None:
            check_label_subset_training(getattr(self.model, "head", self.model), loss_fn, "model.shortlist")
        if self.cfg.train.freeze_encoder:
            encoder = getattr(self.model, "encoder", None)
            assert isinstance(encoder, torch.nn.Module)
            encoder.requires_grad_(False)  # the optimizer then holds the head alone
        train = self.encode(train_texts, train_targets)
        valid = None if valid_texts is None else self.encode(valid_texts, None)
        eval_fn = None
        model: torch.nn.Module = self.model
        valid_model = model
        bs = self.cfg.train.eval_batch_size
        chunked = self.cfg.tokenizer.long_documents == "chunk"
        cacheable = self.shortlister is None  # cached features carry no shortlists
        if cacheable and can_cache_features(model, chunked, probe=self.cfg.train.freeze_encoder, loss=loss_fn):
            # the frozen encoder runs once per document instead of once per epoch
            head = self.model.head
            assert isinstance(head, torch.nn.Module)
            with make_progress(self.cfg.train.progress and distributed.is_main()) as progress:
                task = progress.add_task("encode (frozen)", total=len(train) + len(valid or []), info="")
                step = lambda n: progress.advance(task, n)  # noqa: E731
                model = HeadOnFeatures(head, encode_pooled(self.model, train, bs, self.device, step))
                train = feature_rows(train)
                if valid is not None:
                    feats = encode_pooled(self.model, valid, bs, self.device, step)
                    valid_model, valid = HeadOnFeatures(head, feats), feature_rows(valid)
        validate = ctx.validate
        if validate is not None and valid is not None:
            # under torch.distributed each process predicts a share and all get every logit,
            # so metrics and early stopping agree everywhere
            eval_fn = lambda: validate(  # noqa: E731
                predict_logits(valid_model, valid, bs, self.device, shard=True)
            )
        trainer = Trainer(
            model, loss_fn.to(self.device), self.cfg.train, self.device, run_dir, eval_fn, ctx.primary
        )
        self.train_state = trainer.fit(train, resume=resume)
        self.train_state.update(self.embedding_state)  # e.g. GloVe coverage, kept in decode.json
        self.train_state["precision"] = precision_name(getattr(self.model, "compute_dtype", None))
        if self.shortlist_state:
            self.train_state["shortlist"] = self.shortlist_state
        if self.plant_state:
            l2r = self.plant_state.get("l2r") or {}
            self.train_state["plant"] = {
                "seconds": self.plant_state.get("seconds"),
                "l2r_heldout_ndcg": l2r.get("heldout_ndcg"),
                "reused": bool(self.plant_state.get("reused", False)),
            }

    def logits(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None, shard: bool = False
    ) -> np.ndarray:
        """(N, L) logits. ``shard=True`` under ``torch.distributed``: every process
        predicts a share and all return every logit (every process must call it)."""
        assert self.model is not None
        data = self.encode(texts, None)
        return predict_logits(self.model, data, self.cfg.train.eval_batch_size, self.device, on_batch, shard)

    def embed(self, texts: Sequence[str], which: str = "pooled") -> np.ndarray:
        """(N, d): the encoder's pooled vector, or the contrastive projection."""
        assert self.model is not None
        data = self.encode(texts, None, shortlist=False)
        return predict_embeddings(self.model, data, self.cfg.train.eval_batch_size, self.device, which)

    def network(self) -> tuple[torch.nn.Module, TextTokenizer]:
        """The trained network (on the CPU, in eval mode) and its tokenizer, for export."""
        if self.model is None or self.tokenizer is None:
            raise ValueError("the neural model is not trained or loaded")
        return self.model.cpu().eval(), self.tokenizer

    # -------------------------------------------------------------- persistence
    def save(self, run_dir: Path) -> None:
        assert self.model is not None
        self.save_tokenizer(run_dir)
        ckpt.save_tensors(run_dir / rundir.WEIGHTS, self.model.state_dict())
        if self.shortlister is not None:
            self.shortlister.save(run_dir / rundir.SHORTLIST_DIR)

    def save_tokenizer(self, run_dir: Path) -> None:
        assert self.tokenizer is not None
        ckpt.atomic_write(run_dir / rundir.TOKENIZER, lambda p: self.tokenizer.save(p))  # type: ignore[union-attr]

    def load(self, run_dir: Path, num_labels: int) -> None:
        self.tokenizer = TextTokenizer.load(run_dir / rundir.TOKENIZER, self.tokenizer_kind())
        self.build_model(num_labels, pretrained_embeddings=False)  # the weights hold them
        assert self.model is not None
        state = ckpt.load_tensors(run_dir / rundir.WEIGHTS)
        ckpt.load_state_checked(self.model, state, f"{run_dir}/{rundir.WEIGHTS}")
        self.model.eval()
        shortlist = self.cfg.model.shortlist
        if shortlist is not None:
            where = run_dir / rundir.SHORTLIST_DIR
            if not (where / rundir.LINEAR_META).is_file():
                raise ValueError(f"{where}: the shortlist's linear model is missing (the config sets "
                                 "model.shortlist); copy the whole run directory")
            self.shortlister = Shortlister.load(where, shortlist.size)
