"""The sections of a run configuration, as strict pydantic models.

Unknown keys and bad values are errors naming the key, what was expected and the choices.
This module is a leaf: it knows the sections, not the components. Component names and
parameters (encoder, head, loss, linear model, metric names) are checked against the
registries one layer up, by :func:`labelwise.components.load_config`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from labelwise.errors import UserError


class ConfigError(UserError):
    """A configuration problem: the message names the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    """Where the texts come from."""

    dataset: str | None = Field(None, description="named dataset in the data directory")
    data_dir: str | None = Field(None, description="default: $LABELWISE_DATA or ../shared/data")
    train: str | None = Field(None, description="path to a training file (overrides dataset)")
    valid: str | None = None
    test: str | None = None
    format: str = Field("auto", description="jsonl | csv | tsv | parquet | libmultilabel | auto")
    text_column: str = Field("text", min_length=1, description=(
        "the field (JSON Lines) or column (CSV, TSV, Parquet, and tables given to the API) "
        "holding the text"))
    label_column: str = Field("labels", min_length=1, description=(
        "the field or column holding the labels: a list a row, or under another name than "
        "labels one label (string or integer) a row"))
    hierarchy: str | None = Field(
        None, description="parent<TAB>child file; 'auto' = the dataset's labels_hierarchy.tsv"
    )
    hierarchy_dag: bool = Field(
        False, description="the hierarchy may give a node several parents (a DAG such as EUROVOC)"
    )
    unseen_labels: Literal["error", "ignore", "warn"] = "warn"
    valid_fraction: float = Field(0.1, gt=0, lt=1, description="carved from train if no valid")
    train_fraction: float = Field(1.0, gt=0, le=1, description=(
        "train on a seeded random part of the training set; every label of the whole set stays "
        "a class, label groups (few-shot, ...) follow the whole set's counts, and without a "
        "validation split valid_fraction is held out of the whole set first"))
    max_train: int | None = Field(None, gt=0, description="cap on training documents (as train_fraction)")
    max_eval: int | None = Field(None, gt=0, description="cap on valid/test documents")
    max_valid: int | None = Field(
        None, gt=0,
        description=(
            "cap on the validation split's documents, or on those held out of a cut training "
            "set (a seeded sample; they choose the epoch and the threshold), below max_eval: "
            "cheaper evaluations with many labels, the test split untouched"
        ),
    )


class TokenizerConfig(_Strict):
    """Text to token ids."""

    kind: Literal["auto", "wordpiece", "pretrained", "minilm"] = "auto"
    vocab_size: int = Field(30000, ge=100)
    min_frequency: int = Field(2, ge=1)
    lowercase: bool = True
    max_length: int = Field(128, ge=4, le=8192)
    long_documents: Literal["truncate", "head_tail", "chunk"] = "truncate"
    max_chunks: int = Field(4, ge=1, description="chunks per document when chunking")
    head_tokens: int = Field(
        128, ge=0, description="head_tail: tokens kept from the start of a long document; the "
        "rest of max_length is filled from its end")


class ProjectionConfig(_Strict):
    """The projection head that contrastive losses read (pooled vector -> z)."""

    dim: int = Field(128, ge=1, description="width of the contrastive embedding z")
    layers: int = Field(2, ge=1, le=2, description="1: linear; 2: linear-ReLU-linear (SimCLR)")
    hidden_dim: int | None = Field(None, ge=1, description="2 layers: hidden width (default: input)")


class ShortlistConfig(_Strict):
    """Label shortlists for a neural head (labelwise.shortlist): a TF-IDF linear model,
    by default a label tree, proposes ``size`` labels per document; the head scores only
    those, in training (as hard negatives beside the positives) and at prediction."""

    size: int = Field(100, ge=1, description="labels proposed per document")
    linear: dict[str, Any] = Field(
        default_factory=lambda: {"tree": {}, "C": 1.0, "ngram_range": [1, 1], "tol": 0.01},
        description=(
            "TfidfLinear parameters of the model that proposes the labels; default: a label "
            "tree over word unigrams at C = 1 (the extreme-task linear settings), whose fit "
            "and scoring grow with log(labels)"
        ),
    )


class ModelConfig(_Strict):
    """A neural encoder + head, the TF-IDF linear model, or a fusion of trained models."""

    type: Literal["neural", "linear", "fusion"] = "neural"
    encoder: dict[str, Any] = Field(default_factory=lambda: {"name": "cnn"})
    head: dict[str, Any] = Field(default_factory=lambda: {"name": "linear"})
    linear: dict[str, Any] = Field(default_factory=dict, description="TfidfLinear parameters")
    fusion: dict[str, Any] = Field(default_factory=dict, description=(
        "type fusion: members (each a config to train, with set overrides, or a trained run), "
        "weight_step, calibrate (labelwise.backends.fusion.FusionConfig)"))
    projection: ProjectionConfig | None = Field(
        None, description="contrastive projection; default: added when the loss needs it"
    )
    shortlist: ShortlistConfig | None = Field(
        None, description=(
            "multi-label, hierarchical and extreme tasks, heads labelwise_attention, plant and "
            "linear: score a shortlist of labels per document instead of every label "
            "(labelwise.shortlist); None: every label"
        ),
    )
    chunk_pooling: Literal["max", "stateful"] = Field(
        "max",
        description=(
            "with tokenizer.long_documents: chunk, how chunk logits become document logits. "
            "max: the maximum over a document's chunks. stateful: that maximum plus "
            "stateful_gamma times the label state carried over the chunks before the last "
            "(PLANT's stateful decoder, labelwise.models.stateful: per chunk the top "
            "stateful_k sigmoid scores, element-wise max over the chunks read so far). The "
            "state is detached, so training keeps the gradient of max pooling (every chunk "
            "learns) and training and prediction score documents the same way; a one-chunk "
            "document gets exactly its max-pooled logits. Ignored without chunking"
        ),
    )
    stateful_k: int = Field(
        10, ge=1, description="chunk_pooling: stateful: labels kept in each chunk's state"
    )
    stateful_gamma: float = Field(
        1.0, ge=0, description="chunk_pooling: stateful: weight of the carried label state"
    )

    @field_validator("encoder", "head")
    @classmethod
    def _has_name(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "name" not in v or not isinstance(v["name"], str):
            raise ValueError("needs a 'name' key, e.g. {name: cnn}")
        return v


class TrainConfig(_Strict):
    """The training loop."""

    epochs: int = Field(5, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0, le=10, description="AdamW learning rate (typically 1e-5 to 1e-2)")
    head_lr: float | None = Field(
        None, gt=0, le=10, description="learning rate of every trained parameter outside the encoder "
        "(head, label queries, projection heads); default: lr. A pretrained encoder fine-tunes at "
        "1e-5 to 1e-4, where a head trained from scratch, such as thousands of label queries, "
        "learns little")
    grad_accum: int = Field(
        1, ge=1, description="run each batch as this many slices of its documents, adding up "
        "their gradients: the update of the whole batch with the memory of one slice (losses "
        "that compare documents within a batch, such as supcon, compare within a slice)")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description=(
            "auto: bf16 autocast where the hardware computes bf16 natively (a CPU with "
            "avx512_bf16 or AMX, a bf16 GPU), else fp32; bf16 elsewhere is emulated and "
            "10-25x slower. Parameters, optimizer state and outputs stay fp32. Applies to "
            "training and to prediction with the run's weights"))
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    grad_clip: float | None = Field(1.0, gt=0)
    patience: int | None = Field(3, ge=1, description="evaluations without improvement")
    eval_every: int | None = Field(
        None, ge=1,
        description=(
            "evaluate (and checkpoint) every this many steps and after the last one; default "
            "at the end of every epoch. Set, it replaces the per-epoch evaluations: fewer, "
            "on long schedules over small data, or more, within long epochs"
        ),
    )
    checkpoint_seconds: float | None = Field(
        None, ge=0, description=(
            "checkpoint (for --resume) at an evaluation only when this many seconds have passed "
            "since the last checkpoint, and always after the last step; default: at every "
            "evaluation. Where evaluations come seconds apart (tiny epochs: few-shot data, a "
            "pre-training stage), writing the model and optimizer each time can cost more than "
            "the training; a crash loses at most this long"))
    primary_metric: str = Field(
        "auto", description="picks the best checkpoint (and a linear model's C); auto: the task's usual "
        "metric, or the first of metrics when that list leaves it out")
    seed: int = 13
    device: str = "auto"
    num_threads: int | None = Field(None, ge=1)
    log_every: int = Field(50, ge=1)
    tensorboard: bool = True
    progress: bool = True
    freeze_encoder: bool = Field(
        False, description=(
            "train only the head (a linear probe, e.g. after pre-training); where the head reads "
            "the pooled vector alone, it trains on features computed once, in eval mode"
        ),
    )
    contrastive_views: int = Field(
        2, ge=1, le=2, description="dropout views per text when the loss contrasts embeddings"
    )
    label_sample: int | None = Field(
        None, ge=1,
        description=(
            "multi-label/extreme, heads labelwise_attention, plant and linear, losses bce "
            "(without balanced pos_weight), focal and asl: each training step scores only the "
            "batch's positive labels plus uniformly drawn negatives, this many labels in all "
            "(labelwise.models.heads.label_subset); evaluation and prediction score every "
            "label. None: every label in every step"
        ),
    )


class PretrainConfig(_Strict):
    """An optional first stage: train the encoder with a (contrastive) loss alone, then
    fine-tune with the main ``loss`` (two-stage schedule)."""

    loss: dict[str, Any] = Field(
        default_factory=lambda: {"name": "supcon"}, description="the pre-training loss"
    )
    epochs: int = Field(3, ge=1)
    lr: float | None = Field(None, gt=0, description="default: train.lr")


class DecodeConfig(_Strict):
    """From scores to label sets."""

    threshold: float = Field(0.5, gt=0, lt=1)
    tune_threshold: Literal["none", "global", "per_label"] = "global"
    tune_metric: str = "micro_f1"
    top_k: int = Field(5, ge=1)
    at_least_one: bool = Field(False, description="multi-label: predict the top label if none passes")
    abstain: Literal["none", "coverage", "out_of_scope"] = Field(
        "none", description=(
            "multi-class: when to give no label. coverage: abstain on the least confident texts, "
            "the threshold set so that a share 'coverage' of the validation texts is answered; "
            "out_of_scope: call a text 'out_of_scope_label' when its best in-scope score is "
            "below a threshold tuned on validation for accuracy (the label must be a class "
            "of the training data)"))
    coverage: float = Field(0.95, gt=0, le=1, description="abstain: coverage, the share of texts to answer")
    out_of_scope_label: str | None = Field(
        None, description="abstain: out_of_scope, the class that stands for 'none of the others'")

    @model_validator(mode="after")
    def _out_of_scope_needs_label(self) -> DecodeConfig:
        if self.abstain == "out_of_scope" and not self.out_of_scope_label:
            raise ValueError("decode.abstain out_of_scope needs decode.out_of_scope_label, the class "
                             "that stands for 'none of the others' (e.g. oos)")
        return self


class PlantConfig(_Strict):
    """PLANT's stage before training (model.head.name: plant): mutual-information gain of
    every (token, label) pair on the training set, a learning-to-rank model of it, and the
    planting of its factors into the head (labelwise.plant)."""

    top_n: int = Field(100, ge=1, description="MIG: tokens kept per label (the best by MIG)")
    label_chunk: int = Field(
        256, ge=1, description="MIG: labels per sparse co-occurrence product (bounds memory)"
    )
    positive_only: bool = Field(
        True, description="MIG: keep only tokens positively associated with the label"
    )
    factor_dim: int = Field(
        400, ge=1,
        description=(
            "L2R factor dimension; equals model.head.factor_dim: either one given alone "
            "sets the other, both given and different is an error"
        ),
    )
    l2r_epochs: int = Field(10, ge=1, description="L2R: passes over the per-label lists")
    l2r_lr: float = Field(1e-2, gt=0, description="L2R: Adam learning rate")
    l2r_k: int = Field(10, ge=1, description="L2R: NDCG cut-off of the LambdaRank weights and the report")
    l2r_valid_fraction: float = Field(
        0.2, ge=0, lt=1,
        description=(
            "L2R: share of each label's MIG tokens held out of training to measure held-out "
            "NDCG@l2r_k; 0 trains on every token (no held-out NDCG)"
        ),
    )
    sigma: float = Field(0.5, gt=0, description="L2R: RankNet steepness")
    negatives: int = Field(
        20, ge=0, description="L2R: random non-MIG tokens (relevance 0) added to each list"
    )
    grades: int = Field(4, ge=1, description="L2R: relevance grades of a label's MIG list, by rank")


class Config(_Strict):
    """A whole run."""

    task: Literal["auto", "multiclass", "multilabel", "hierarchical", "extreme"] = "auto"
    preset: Literal["fast", "balanced", "best"] | None = Field(
        None,
        description=(
            "choose the model for the data at fit time: fast (the tuned linear model), "
            "balanced (linear fused with MiniLM-L3 fine-tuned for one epoch), best (linear "
            "fused with MiniLM-L6 fine-tuned by a shipped recipe for short or long texts); on "
            "extreme tasks both fuse the linear model with a label tree over word pairs; "
            "see labelwise.presets. "
            "The model section must be left at its default; the run's config.yaml records "
            "the model chosen"
        ),
    )
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    tokenizer: TokenizerConfig = Field(default_factory=lambda: TokenizerConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    loss: dict[str, Any] = Field(default_factory=lambda: {"name": "auto"})
    pretrain: PretrainConfig | None = Field(None, description="two-stage schedule: pre-train first")
    plant: PlantConfig | None = Field(
        None,
        description=(
            "PLANT head only (model.head.name: plant): the MIG and learning-to-rank stage run "
            "before training, whose factors are planted into the head; keys top_n, "
            "label_chunk, positive_only, factor_dim, l2r_epochs, l2r_lr, l2r_k, "
            "l2r_valid_fraction, sigma, negatives, grades (labelwise.config.PlantConfig). "
            "Unset with a plant head: the defaults, with the head's factor_dim. Set with "
            "another head: an error (--set plant=null removes it). Its outputs go to "
            "<run>/plant/ (mig/, l2r/, stage.json); --resume does not rerun it"
        ),
    )
    train: TrainConfig = Field(default_factory=lambda: TrainConfig())
    decode: DecodeConfig = Field(default_factory=lambda: DecodeConfig())
    metrics: list[str] | None = Field(None, description="default: chosen by task")
    output_dir: str | None = Field(None, description="run directory; default runs/<name>")

    @model_validator(mode="after")
    def _plant_matches_head(self) -> Config:
        """The ``plant`` section needs the plant head; its factor_dim and the head's agree
        (one given alone fills the other)."""
        if self.plant is None:
            return self
        head = self.model.head
        if self.model.type != "neural" or head.get("name") != "plant":
            what = "model.type linear" if self.model.type != "neural" else f"model.head '{head.get('name')}'"
            raise ValueError(
                f"the 'plant' section configures the PLANT head's MIG/L2R stage, but the run "
                f"uses {what}: set model.head.name: plant (a neural model), or remove the "
                "'plant' section (--set plant=null)"
            )
        head_dim = head.get("factor_dim")
        plant_given = "factor_dim" in self.plant.model_fields_set
        if head_dim is None:
            head["factor_dim"] = self.plant.factor_dim
        elif isinstance(head_dim, int) and not isinstance(head_dim, bool):
            if not plant_given:
                self.plant.factor_dim = head_dim
            elif head_dim != self.plant.factor_dim:
                raise ValueError(
                    f"plant.factor_dim ({self.plant.factor_dim}) and model.head.factor_dim "
                    f"({head_dim}) differ: the head holds the L2R factors, so they must be "
                    "equal; give one of them (it sets the other) or the same value to both"
                )
        return self
