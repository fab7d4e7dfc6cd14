"""The two kinds of model behind :class:`~labelwise.estimator.TextClassifier`.

Both turn texts into raw scores (N, L) ("logits") and save to / load from a run directory;
everything task-specific (probabilities, thresholds, metrics) lives in the estimator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise import distributed
from labelwise.config import Config
from labelwise.data.tokenize import TextTokenizer
from labelwise.training import EncodedSet, Trainer, predict_logits
from labelwise.training.dataset import ChunkPooling, predict_embeddings, set_chunk_pooling
from labelwise.training.features import (
    HeadOnFeatures,
    can_cache_features,
    encode_pooled,
    feature_rows,
)
from labelwise.training.log import make_progress


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(f"train.device '{name}' is not a device: use auto, cpu or cuda[:N]") from None


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
        self.plant_state: dict[str, Any] = {}
        self.embedding_state: dict[str, Any] = {}  # GloVe coverage, set by build_model

    # -------------------------------------------------------------- building
    def tokenizer_kind(self) -> str:
        from labelwise.models import encoder_tokenizer_kind

        need = encoder_tokenizer_kind(self.cfg.model.encoder["name"])
        kind = self.cfg.tokenizer.kind
        if kind == "auto":
            return need
        if need == "minilm" and kind != "minilm":
            raise ValueError(
                f"encoder '{self.cfg.model.encoder['name']}' needs the MiniLM tokenizer; "
                f"got tokenizer.kind={kind}. Set tokenizer.kind=auto or minilm"
            )
        return kind

    def build_tokenizer(self, train_texts: Sequence[str]) -> None:
        t = self.cfg.tokenizer
        if self.tokenizer_kind() == "minilm":
            self.tokenizer = TextTokenizer.minilm(self.cfg.model.encoder.get("path"))
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
        from labelwise.models import build_model

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
            set_chunk_pooling(self.model, ChunkPooling(m.chunk_pooling, m.stateful_k, m.stateful_gamma))

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
        """The head's fields as configured, plus what only the data decides: a PLANT head's
        ``vocab_size`` is the tokenizer's unless the config gives one (config.yaml keeps
        the config's fields, and loading fills in the same value from the run's
        tokenizer, so the rebuilt model matches the saved weights)."""
        from labelwise.models.heads.plant import PlantHead
        from labelwise.registry import HEADS

        assert self.tokenizer is not None
        head = dict(self.cfg.model.head)
        cls = HEADS.get(head["name"])
        if isinstance(cls, type) and issubclass(cls, PlantHead):
            vocab = self.tokenizer.vocab_size
            given = head.get("vocab_size")
            if given is None:
                head["vocab_size"] = vocab
            elif isinstance(given, int) and given < vocab:
                raise ValueError(
                    f"model.head.vocab_size ({given}) is smaller than the tokenizer's "
                    f"vocabulary ({vocab}): leave it unset (it follows the tokenizer) or "
                    "raise it"
                )
            if "factor_dim" not in head and self.cfg.plant is not None:
                head["factor_dim"] = self.cfg.plant.factor_dim
        return head

    def projection_spec(self) -> dict[str, Any] | None:
        """The projection head's fields: as configured, else the defaults when the loss
        contrasts embeddings (decided from the config alone, so loading rebuilds it)."""
        from labelwise.config import ProjectionConfig
        from labelwise.losses.build import loss_needs_embeddings

        proj = self.cfg.model.projection
        pre = self.cfg.pretrain
        needs = loss_needs_embeddings(self.cfg.loss) or (pre is not None and loss_needs_embeddings(pre.loss))
        if proj is None and needs:
            proj = ProjectionConfig()
        return None if proj is None else proj.model_dump()

    def encode(self, texts: Sequence[str], targets: np.ndarray | None) -> EncodedSet:
        assert self.tokenizer is not None
        t = self.cfg.tokenizer
        if t.long_documents == "chunk":
            docs = self.tokenizer.encode_chunks(texts, t.max_length, t.max_chunks)
        else:
            docs = [[ids] for ids in self.tokenizer.encode(texts, t.max_length)]
        return EncodedSet(docs, targets, self.tokenizer.pad_id)

    # -------------------------------------------------------------- training
    def plant(
        self,
        train_texts: Sequence[str],
        train_targets: np.ndarray,
        run_dir: Path | None,
        resume: bool = False,
    ) -> None:
        """PLANT's stage before training (:mod:`labelwise.plant.pipeline`), when the head
        is a :class:`~labelwise.models.heads.plant.PlantHead` that uses it; otherwise
        nothing. ``train_targets``: (N, L) multi-hot (one-hot for multiclass) or (N,)
        class ids.

        Resuming a run whose stage completed (``<run>/plant/stage.json``) does not redo it:
        the head is planted again from the saved ``<run>/plant/l2r`` (exactly the buffers
        of the first planting, the query initialisation included), then the trainer's
        checkpoint, when there is one, restores everything as it was.

        Under ``torch.distributed`` every process runs the stage (it is seeded) and rank 0
        writes it; DistributedDataParallel then starts every process from rank 0's model.
        """
        from labelwise.config import PlantConfig
        from labelwise.plant.pipeline import (
            find_plant_head,
            needs_planting,
            plant_stage,
            replant,
            stage_done,
        )

        assert self.model is not None and self.tokenizer is not None
        head = find_plant_head(self.model)
        if head is None or not needs_planting(head):
            return
        if resume and run_dir is not None and stage_done(run_dir):
            self.plant_state = {**replant(self.model, run_dir), "reused": True}
            return
        cfg = self.cfg.plant or PlantConfig(factor_dim=head.config.factor_dim)
        docs = [[t for chunk in doc for t in chunk] for doc in self.encode(train_texts, None).docs]
        main = distributed.is_main()
        self.plant_state = plant_stage(
            self.model, self.tokenizer, docs, train_targets, cfg, run_dir if main else None,
            seed=self.cfg.train.seed, progress=self.cfg.train.progress and main, device=self.device,
        )
        distributed.barrier()

    def pretrain(
        self,
        train_texts: Sequence[str],
        train_targets: np.ndarray,
        loss_fn: torch.nn.Module,
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
        stage_dir = None if run_dir is None else run_dir / "pretrain"
        if stage_dir is not None and distributed.is_main():
            stage_dir.mkdir(parents=True, exist_ok=True)
        resume = resume and stage_dir is not None and (stage_dir / "trainer_state.json").is_file()
        trainer = Trainer(self.model, loss_fn.to(self.device), cfg, self.device, stage_dir, None, "loss")
        self.pretrain_state = trainer.fit(self.encode(train_texts, train_targets), resume=resume)

    def fit(
        self,
        train_texts: Sequence[str],
        train_targets: np.ndarray,
        loss_fn: torch.nn.Module,
        evaluate: Callable[[Callable[[], np.ndarray]], dict[str, float]] | None,
        valid_texts: Sequence[str] | None,
        primary: str,
        run_dir: Path | None,
        resume: bool = False,
    ) -> None:
        assert self.model is not None
        if resume and self.cfg.pretrain is not None and run_dir is not None:
            # interrupted during pre-training: the fine-tuning stage has not started yet
            resume = (run_dir / "trainer_state.json").is_file()
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
        if can_cache_features(model, self.cfg.tokenizer.long_documents == "chunk"):
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
        if evaluate is not None and valid is not None:
            # under torch.distributed each process predicts a share and all get every logit,
            # so metrics and early stopping agree everywhere
            eval_fn = lambda: evaluate(  # noqa: E731
                lambda: predict_logits(valid_model, valid, bs, self.device, shard=True)
            )
        trainer = Trainer(
            model, loss_fn.to(self.device), self.cfg.train, self.device, run_dir, eval_fn, primary
        )
        self.train_state = trainer.fit(train, resume=resume)
        self.train_state.update(self.embedding_state)  # e.g. GloVe coverage, kept in decode.json
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
        assert self.model is not None
        data = self.encode(texts, None)
        return predict_embeddings(self.model, data, self.cfg.train.eval_batch_size, self.device, which)

    # -------------------------------------------------------------- persistence
    def save(self, run_dir: Path) -> None:
        assert self.model is not None
        self.save_tokenizer(run_dir)
        ckpt.save_tensors(run_dir / "model.safetensors", self.model.state_dict())

    def save_tokenizer(self, run_dir: Path) -> None:
        assert self.tokenizer is not None
        ckpt.atomic_write(run_dir / "tokenizer.json", lambda p: self.tokenizer.save(p))  # type: ignore[union-attr]

    def load(self, run_dir: Path, num_labels: int) -> None:
        self.tokenizer = TextTokenizer.load(run_dir / "tokenizer.json", self.tokenizer_kind())
        self.build_model(num_labels, pretrained_embeddings=False)  # the weights hold them
        assert self.model is not None
        state = ckpt.load_tensors(run_dir / "model.safetensors")
        ckpt.load_state_checked(self.model, state, f"{run_dir}/model.safetensors")
        self.model.eval()


class LinearBackend:
    """TF-IDF features + one-vs-rest linear models (scikit-learn), no torch involved."""

    kind = "linear"

    def __init__(self, cfg: Config) -> None:
        from labelwise.linear import TfidfLinear

        self.cfg = cfg
        self.model = TfidfLinear(config=TfidfLinear.Config(**cfg.model.linear))
        self.train_state: dict[str, Any] = {}

    def fit_linear(self, texts: Sequence[str], targets: np.ndarray, task: str) -> None:
        import time

        t0 = time.perf_counter()
        self.model.fit(list(texts), targets, task)
        self.train_state = {"train_seconds": time.perf_counter() - t0}

    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        out = self.model.decision_function(list(texts))
        if on_batch is not None:
            on_batch(len(texts))
        return np.asarray(out, dtype=np.float32)

    def save(self, run_dir: Path) -> None:
        self.model.save(run_dir)

    def load(self, run_dir: Path, num_labels: int) -> None:
        from labelwise.linear import TfidfLinear

        self.model = TfidfLinear.load(run_dir)
        n = self.model.num_labels if hasattr(self.model, "num_labels") else num_labels
        if n != num_labels:
            raise ckpt.CheckpointError(
                f"{run_dir}: the linear model has {n} labels but labels.json has {num_labels}"
            )


def make_backend(cfg: Config) -> NeuralBackend | LinearBackend:
    return LinearBackend(cfg) if cfg.model.type == "linear" else NeuralBackend(cfg)
