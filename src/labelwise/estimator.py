"""``TextClassifier``: the scikit-learn estimator of labelwise.

``fit`` returns self, ``predict`` returns label names, ``predict_proba`` columns follow
``classes_``; the constructor only stores its arguments. Settings are constructor
parameters, nested config keys in scikit-learn's ``section__key`` style, so ``get_params``,
``set_params``, ``clone``, ``score``, ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``
work; an unfitted estimator raises scikit-learn's ``NotFittedError``. ``save``/``load`` use
a run directory.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labelwise import checkpoint as ckpt
from labelwise import distributed, rundir
from labelwise.backends import FitContext, Split, make_backend
from labelwise.card import write_model_card
from labelwise.components import load_config
from labelwise.config import Config, build_config, dump_config
from labelwise.data.hierarchy import Hierarchy
from labelwise.data.labels import LabelSpace, infer_task
from labelwise.data.tables import examples_of, texts_of
from labelwise.evaluation import evaluate_scores
from labelwise.tasks import make_task, resolve_task
from labelwise.texts import text_problem
from labelwise.types import Example

# settings that change how a trained model reads and scores documents, or where it runs,
# not its weights: `labelwise evaluate --set` and TextClassifier.load(overrides=...) take them
LOAD_MAY_CHANGE = frozenset({
    "model.chunk_pooling", "model.stateful_k", "model.stateful_gamma", "tokenizer.max_chunks",
    "train.eval_batch_size", "train.device", "train.num_threads", "decode.at_least_one",
})


def _as_config(config: Config | dict[str, Any] | str | Path | None, overrides: dict[str, Any]) -> Config:
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, (str, Path)):
        cfg = load_config(config)
    else:
        cfg = build_config(dict(config or {}), "TextClassifier(config=...)")
    if overrides:
        tree = cfg.model_dump()
        for key, value in overrides.items():  # e.g. train__lr=3e-4 -> train.lr
            node = tree
            parts = key.split("__")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
        cfg = build_config(tree, "TextClassifier(**overrides)")
    return cfg


# fewer validation documents than this make a choice on them mostly chance: fit warns
MIN_VALID_DOCS = 30


def chooses_on_validation(cfg: Config, task: str, num_train: int) -> bool:
    """Whether training ``cfg`` on ``num_train`` documents chooses anything on the
    validation split: a fusion's weights, a threshold (tasks other than multi-class), the
    linear model's C from a list, or a network's checkpoint among several evaluations."""
    if cfg.model.type == "fusion" or task != "multiclass":
        return True
    if cfg.model.type == "linear":
        from labelwise.linear import TfidfLinear

        c = TfidfLinear.Config(**cfg.model.linear).C
        return isinstance(c, list) and len(c) > 1
    t = cfg.train
    steps = math.ceil(num_train / t.batch_size) * t.epochs
    if t.max_steps is not None:
        steps = min(steps, t.max_steps)
    every = t.eval_every or math.ceil(num_train / t.batch_size)
    return steps > every


def carve_valid(
    train: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split a seeded ``fraction`` of ``train`` off for validation: (rest, held out). With
    fewer than 2 examples both are the whole set."""
    if len(train) < 2:
        return train, train
    perm = np.random.default_rng(seed).permutation(len(train))
    n_valid = max(1, int(round(fraction * len(train))))
    return [train[i] for i in perm[n_valid:]], [train[i] for i in perm[:n_valid]]


def to_examples(texts: Sequence[str], labels: Sequence[Any] | None, where: str) -> list[Example]:
    """Texts and labels (a name or a list of names per text) as Examples."""
    if isinstance(texts, str):
        raise TypeError(f"{where}: expected a list of texts, got a single string; wrap it in a list")
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"{where}: {len(texts)} texts but {len(labels)} label entries; they must match")
    out = []
    for i, text in enumerate(texts):
        lab: Any = () if labels is None else labels[i]
        lab = (lab,) if isinstance(lab, str) else tuple(lab)
        problem = text_problem(text)
        if problem is not None:
            raise ValueError(f"{where}: text #{i} {problem}; remove it or fix it")
        out.append(Example(text, tuple(str(x) for x in lab), f"{where}[{i}]"))
    return out


def _is_override(name: str) -> bool:
    """A config key's parameter name (``preset``, ``train__lr``), not a private or fitted
    attribute's (``_x``, ``labels_``)."""
    parts = name.split("__")
    return (not name.startswith("_") and not name.endswith("_") and all(parts)
            and parts[0] in Config.model_fields)


def _override_name(key: str) -> str:
    if not _is_override(key):
        raise ValueError(
            f"invalid parameter '{key}' for TextClassifier: use config, a config section or key "
            f"({', '.join(Config.model_fields)}), or a nested key in section__key form, e.g. "
            "train__lr or model__linear__C"
        )
    return key


def examples_from(X: Any, y: Any, where: str, text_column: str = "text",
                  label_column: str = "labels") -> list[Example]:
    """Examples from texts and labels, or from a table (pandas, Arrow, ``datasets``):
    its ``text_column``, and its ``label_column`` when ``y`` is None."""
    if y is None:
        rows = examples_of(X, text_column, label_column)
        if rows is None:
            raise TypeError(f"{where}: give the labels y, or a table (pandas DataFrame, Arrow table, "
                            f"datasets.Dataset) with a '{label_column}' column")
        return list(rows)
    return to_examples(texts_of(X, text_column), y.tolist() if hasattr(y, "tolist") else y, where)


class TextClassifier:
    """Text classification for multi-class, multi-label, hierarchical and extreme tasks.

    Args:
        config: a :class:`~labelwise.config.Config`, a dict of its sections, or a YAML path.
        **overrides: ``section__key=value`` assignments applied on top, e.g. ``train__epochs=3``
            or ``model__linear__C=0.5``: scikit-learn parameters (``get_params``,
            ``set_params``, a ``GridSearchCV`` grid).

    Example:
        >>> from sklearn.model_selection import GridSearchCV
        >>> clf = TextClassifier(model__type="linear")
        >>> search = GridSearchCV(clf, {"model__linear__C": [0.25, 1.0]}, cv=3).fit(texts, labels)
    """

    _estimator_type = "classifier"  # scikit-learn before 1.6 reads this; later ones the tags

    def __init__(self, config: Config | dict[str, Any] | str | Path | None = None, **overrides: Any) -> None:
        self.config = config
        # each override is an attribute of its own name (train__lr), as scikit-learn keeps
        # every constructor parameter
        for key, value in overrides.items():
            setattr(self, _override_name(key), value)

    @property
    def overrides(self) -> dict[str, Any]:
        """The config keys (``preset``, ``section__key``) given to the constructor or ``set_params``."""
        return {k: v for k, v in vars(self).items() if _is_override(k)}

    # ------------------------------------------------------------ scikit-learn
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters: ``config`` and every ``section__key`` override."""
        return {"config": self.config, **self.overrides}

    def set_params(self, **params: Any) -> TextClassifier:
        """Set ``config`` or ``section__key`` overrides (checked against the config's
        sections when the estimator is fitted); returns self."""
        for key, value in params.items():
            setattr(self, "config" if key == "config" else _override_name(key), value)
        return self

    def __repr__(self) -> str:
        args = [] if self.config is None else [f"config={self.config!r}"]
        args += [f"{k}={v!r}" for k, v in self.overrides.items()]
        return f"TextClassifier({', '.join(args)})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "backend_")

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        # the input is a list of texts, not a numeric array
        tags = Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(multi_label=True))
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _check_fitted(self, what: str) -> None:
        """Raise scikit-learn's ``NotFittedError`` (a ValueError and an AttributeError)."""
        if not self.__sklearn_is_fitted__():
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"this TextClassifier is not fitted yet: call fit(X, y) (or TextClassifier.load(run_dir)) "
                f"before {what}"
            )

    def score(self, X: Sequence[str] | Any, y: Sequence[Any] | None = None) -> float:
        """The task's usual metric on ``X``, ``y``: accuracy for multi-class tasks, micro-F1
        for multi-label and hierarchical ones, P@5 for extreme ones (higher is better, as
        scikit-learn's model selection expects)."""
        self._check_fitted("score")
        name = self.task_.primary_metric("auto")
        d = self.config_.data
        examples = examples_from(X, y, "score(X, y)", d.text_column, d.label_column)
        scores = self.task_.scores(self.backend_.logits([e.text for e in examples]))
        return float(self._measure(scores, self.labels_.encode_many(examples), names=[name])[name])

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Sequence[str] | Any,
        y: Sequence[Any] | None = None,
        X_valid: Sequence[str] | Any | None = None,
        y_valid: Sequence[Any] | None = None,
        hierarchy: Hierarchy | None = None,
    ) -> TextClassifier:
        """Fit on texts ``X`` and their labels ``y`` (a name or a list of names per text).
        ``X`` may be a table (a pandas DataFrame, an Arrow table, a Hugging Face
        ``datasets.Dataset``): its ``data.text_column`` holds the texts and, when ``y`` is
        None, its ``data.label_column`` the labels."""
        data = _as_config(self.config, self.overrides).data
        train = examples_from(X, y, "fit(X, y)", data.text_column, data.label_column)
        valid = None if X_valid is None else examples_from(X_valid, y_valid, "fit(X_valid, y_valid)",
                                                           data.text_column, data.label_column)
        return self.fit_examples(train, valid, hierarchy=hierarchy)

    def fit_examples(
        self,
        train: list[Example],
        valid: list[Example] | None = None,
        hierarchy: Hierarchy | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
        replace: bool = False,
        known_labels: Sequence[str] = (),
        observe: Callable[[dict[str, float]], None] | None = None,
    ) -> TextClassifier:
        """Fit on Examples; with ``run_dir`` every artefact is written there as it is made.
        ``replace`` deletes an earlier run in ``run_dir``, but only once the data has been
        read and encoded, so bad input never costs the old run. ``known_labels`` are
        classes even where ``train`` has no document of them (count 0): e.g. the labels of
        the whole training set when a fraction of it is trained on. ``observe`` is called
        with the validation metrics of every evaluation during training (``labelwise tune``
        reports them to its pruner, which may stop the trial by raising).

        Under ``torchrun`` (``WORLD_SIZE`` > 1) every process calls this with the same
        data: training is data-parallel (:mod:`labelwise.distributed`; ``train.batch_size``
        is the global batch), every process ends with the same model, and rank 0 alone
        writes ``run_dir``.
        """
        cfg = self.config_ = _as_config(self.config, self.overrides)
        self.preset_: str | None = None  # what a preset chose, in words
        run_dir = None if run_dir is None else Path(run_dir)
        with distributed.session(cfg.train.device):
            return self._fit_examples(cfg, train, valid, hierarchy, run_dir, resume, replace, known_labels,
                                      observe)

    def _fit_examples(
        self,
        cfg: Config,
        train: list[Example],
        valid: list[Example] | None,
        hierarchy: Hierarchy | None,
        run_dir: Path | None,
        resume: bool,
        replace: bool,
        known_labels: Sequence[str] = (),
        observe: Callable[[dict[str, float]], None] | None = None,
    ) -> TextClassifier:
        main = distributed.is_main()
        if not train:
            raise ValueError("the training set is empty: give at least one labelled text")
        if cfg.preset is not None:
            from labelwise.presets import resolve_preset

            cfg, self.preset_ = resolve_preset(cfg, train, hierarchy is not None)
            self.config_ = cfg
            if main:
                print(f"labelwise: {self.preset_}", file=sys.stderr)
        kind = resolve_task(cfg.task, hierarchy is not None, lambda: infer_task(train))
        if valid is None:
            all_labels = sorted({lab for e in train for lab in e.labels})
            train, valid = self._carve_valid(train, cfg)
        else:
            all_labels = []
        if main and len(valid) < MIN_VALID_DOCS and chooses_on_validation(cfg, kind.value, len(train)):
            warnings.warn(
                f"the validation split has {len(valid)} documents, and this model chooses on it "
                "(the checkpoint to keep, decision thresholds, C, or a fusion's weights): a choice on so few "
                "is mostly chance. Give a validation split of its own (fit(X, y, X_valid, y_valid), "
                "data.valid), more data, or a fixed schedule such as the few-shot recipe "
                "(preset balanced does this for small multi-class data)", UserWarning, stacklevel=3)
        all_labels = sorted(set(all_labels) | set(known_labels))
        # training counts (PSP, buckets, balanced weights) come from the documents trained
        # on; labels seen only in the held-out part are still classes, with count 0
        self.labels_ = LabelSpace.fit(train, kind, hierarchy=hierarchy,
                                      unseen=cfg.data.unseen_labels, known_labels=all_labels)
        y_train = self.labels_.encode_many(train)
        y_valid = self.labels_.encode_many(valid)
        self.task_ = task = make_task(self.labels_, cfg.decode, y_train)
        self.backend_ = make_backend(cfg)
        self.metric_names_ = cfg.metrics or task.default_metrics()
        primary = task.primary_metric(cfg.train.primary_metric)
        if cfg.train.primary_metric == "auto" and primary not in self.metric_names_:
            primary = self.metric_names_[0]  # the task's usual one is not computed: the first listed
        if primary not in (*self.metric_names_, "loss"):
            raise ValueError(
                f"train.primary_metric '{primary}' is not among the metrics computed "
                f"({', '.join(self.metric_names_)}); add it to 'metrics' or choose one of those"
            )
        if run_dir is not None:
            if main:
                if replace and not resume:
                    ckpt.clear_run_dir(run_dir)
                self._write_setup(run_dir)
            distributed.barrier()
        valid_texts = [e.text for e in valid]

        def measure(logits: np.ndarray) -> dict[str, float]:
            # measure with the threshold that decoding will use, tuned on this same
            # validation split, so the checkpoint is chosen the way it will be used
            self._tune_thresholds(logits, y_valid)
            metrics = self._measure(task.scores(logits), y_valid)
            threshold = task.reported_threshold()
            if threshold is not None:
                metrics["threshold"] = threshold
            return metrics

        def validate(logits: np.ndarray) -> dict[str, float]:
            metrics = measure(logits)
            if observe is not None:
                observe(metrics)
            return metrics

        ctx = FitContext(task, self.labels_, run_dir, resume, validate, primary, measure)
        self.backend_.fit(Split([e.text for e in train], y_train), Split(valid_texts, y_valid), ctx)
        self._tune_thresholds(self.backend_.logits(valid_texts, shard=True), y_valid)
        if run_dir is not None:
            if main:
                self._save(run_dir)
            distributed.barrier()
        return self

    def _carve_valid(self, train: list[Example], cfg: Config) -> tuple[list[Example], list[Example]]:
        return carve_valid(train, cfg.data.valid_fraction, cfg.train.seed)

    # ------------------------------------------------------------------ decoding
    @property
    def classes_(self) -> list[str]:
        if not hasattr(self, "labels_"):
            self._check_fitted("classes_")
        return list(self.labels_.classes)

    @property
    def threshold_(self) -> float | np.ndarray:
        """The decision threshold (one per label, or one for all) chosen on validation."""
        return self.task_.threshold

    @property
    def exclusive_(self) -> bool:
        """Whether a hierarchy's levels are exclusive (one node per level per document)."""
        return self.task_.exclusive

    def _tune_thresholds(self, valid_logits: np.ndarray, y_valid: np.ndarray) -> None:
        """Let the task choose its thresholds on validation scores."""
        name = self.config_.decode.tune_metric

        def metric(scores: np.ndarray, pred: np.ndarray, targets: np.ndarray) -> float:
            return evaluate_scores([name], scores, pred, targets)[name]

        self.task_.tune(self.task_.scores(valid_logits), y_valid, metric)

    def _measure(self, scores: np.ndarray, y: np.ndarray, group_counts: np.ndarray | None = None,
                 names: Sequence[str] | None = None) -> dict[str, float]:
        """The run's metrics (or ``names``) of ``scores`` against ``y``."""
        decisions = self.task_.decide(scores)
        metrics = evaluate_scores(
            self.metric_names_ if names is None else names, scores, decisions, y,
            train_counts=np.asarray(self.labels_.train_counts),
            num_train_docs=self.labels_.num_train_docs,
            levels=self.task_.levels,
            bucket_mode=self.task_.bucket_mode,
            group_counts=group_counts,
        )
        return {**metrics, **self.task_.extra_metrics(decisions, y)}

    # ------------------------------------------------------------------ predicting
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """(N, L) scores; columns follow ``classes_``."""
        self._check_fitted("predict_proba")
        texts = self._texts(X)
        to_examples(texts, None, "predict_proba(X)")
        return self.task_.scores(self.backend_.logits(list(texts)))

    def _texts(self, X: Any) -> Sequence[str]:
        """``X``'s texts: a table's text column, or ``X`` itself."""
        return texts_of(X, self.config_.data.text_column)  # type: ignore[no-any-return]

    def predict(self, X: Sequence[str]) -> list[Any]:
        """Label names: one per text (multi-class) or a list per text (the other tasks)."""
        self._check_fitted("predict")
        return self.task_.label_names(self.task_.decide(self.predict_proba(X)))

    def embed(self, X: Sequence[str], which: str = "pooled") -> np.ndarray:
        """(N, d) document vectors of a neural model: the encoder's pooled vector, or
        ``which="embeddings"`` for the contrastive projection (models trained with one)."""
        self._check_fitted("embed")
        texts = self._texts(X)
        to_examples(texts, None, "embed(X)")
        return self.backend_.embed(list(texts), which)

    def explain(self, X: Sequence[str] | Any, labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Why each text got its labels (or the ``labels`` asked for): per-label token weights,
        one record a text (:func:`labelwise.explain.explain`; ``to_html`` renders them)."""
        from labelwise.explain import explain

        self._check_fitted("explain")
        return explain(self, list(self._texts(X)), labels)

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """Scores (N, L) -> decisions (N, L) bool with the fitted thresholds."""
        return self.task_.decide(scores)

    def evaluate(self, X: Sequence[str] | Any, y: Sequence[Any] | None = None) -> dict[str, float]:
        """The run's metrics on texts ``X`` and labels ``y`` (or a table's columns)."""
        self._check_fitted("evaluate")
        d = self.config_.data
        return self.evaluate_examples(examples_from(X, y, "evaluate(X, y)", d.text_column, d.label_column))

    def evaluate_examples(self, examples: list[Example], shard: bool = False,
                          group_counts: Mapping[str, int] | None = None) -> dict[str, float]:
        """Metrics on labelled examples. ``shard=True`` under ``torch.distributed``: the
        processes share the predictions and all return the same metrics (every process
        must call it). ``group_counts`` (label -> training documents) defines the label
        groups of ``fewshot_p@5`` and the like instead of the counts trained on."""
        self._check_fitted("evaluate")
        y = self.labels_.encode_many(examples)
        scores = self.task_.scores(self.backend_.logits([e.text for e in examples], shard=shard))
        counts = None if group_counts is None else np.array(
            [int(group_counts.get(c, 0)) for c in self.labels_.classes], np.int64)
        return self._measure(scores, y, group_counts=counts)

    # ------------------------------------------------------------------ persistence
    def _write_setup(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.write_json(run_dir / rundir.RUN_INFO, self._run_info(status="training"))
        ckpt.write_text(run_dir / rundir.CONFIG, dump_config(self.config_))
        ckpt.write_json(run_dir / rundir.LABELS, self.labels_.to_json())

    def _run_info(self, status: str) -> dict[str, Any]:
        from labelwise.version import __version__

        return {
            "format_version": ckpt.FORMAT_VERSION, "labelwise_version": __version__,
            "backend": self.backend_.kind, "task": self.task_.value, "status": status,
        }

    def save(self, run_dir: str | Path, overwrite: bool = False) -> None:
        """Write the fitted model as a run directory (``TextClassifier.load`` reads it).

        Raises:
            FileExistsError: ``run_dir`` holds files that are not a labelwise run, or holds
                a run and ``overwrite`` is False (with ``overwrite`` the old run is deleted).
        """
        self._check_fitted("save")
        run_dir = Path(run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise FileExistsError(f"save: '{run_dir}' is a file; a run directory is a folder")
        state = rundir.run_state(run_dir)
        if state == "foreign":
            raise FileExistsError(f"save: '{run_dir}' is not empty and holds no labelwise run; "
                                  "choose another directory")
        if state != "empty":
            if not overwrite:
                raise FileExistsError(f"save: '{run_dir}' already holds a labelwise run; pass "
                                      "overwrite=True to replace it, or choose another directory")
            ckpt.clear_run_dir(run_dir)
        self._save(run_dir)

    def _save(self, run_dir: Path) -> None:
        """Write every file of the run into ``run_dir``, whatever it holds."""
        self._write_setup(run_dir)
        self.backend_.save(run_dir)
        ckpt.write_json(run_dir / rundir.DECODE, {
            **self.task_.state(),
            "metrics": self.metric_names_,
            "train_state": {k: v for k, v in self.backend_.train_state.items() if k != "history"},
        })
        ckpt.write_json(run_dir / rundir.RUN_INFO, {**self._run_info(status="complete"),
                                                    "sha256": ckpt.weight_digests(run_dir)})
        write_model_card(run_dir)

    @classmethod
    def load(cls, run_dir: str | Path, overrides: Sequence[str] = ()) -> TextClassifier:
        """The trained run in ``run_dir``. ``overrides`` (``key=value``) change how its
        weights read and score documents, for keys of :data:`LOAD_MAY_CHANGE` only: e.g.
        ``model.chunk_pooling=max`` decodes a stateful-trained model with max pooling."""
        run_dir = Path(run_dir)
        self = cls.load_decoding(run_dir, overrides)
        ckpt.verify_weights(run_dir)
        self.backend_ = make_backend(self.config_)
        self.backend_.load(run_dir, len(self.classes_))
        return self

    @classmethod
    def load_decoding(cls, run_dir: str | Path, overrides: Sequence[str] = ()) -> TextClassifier:
        """A run's estimator without its model: config, labels, task, thresholds (all that
        turns logits into scores and decisions). ``load`` adds the model; the ONNX
        predictor adds its own."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise ckpt.CheckpointError(f"run directory '{run_dir}' does not exist")
        info = ckpt.check_run_info(run_dir)
        for assignment in overrides:
            key = assignment.partition("=")[0].strip()
            if key not in LOAD_MAY_CHANGE:
                raise ValueError(
                    f"'{key}' cannot change once a run is trained (its weights depend on it); "
                    f"keys that can: {', '.join(sorted(LOAD_MAY_CHANGE))}"
                )
        cfg = load_config(run_dir / rundir.CONFIG, list(overrides))
        self = cls(cfg)
        self.config_ = cfg
        self.labels_ = LabelSpace.from_json(ckpt.read_json(run_dir / rundir.LABELS))
        if self.labels_.task.value != info["task"]:
            raise ckpt.CheckpointError(
                f"{run_dir}: run.json says task '{info['task']}' but labels.json was built for "
                f"'{self.labels_.task.value}'; the run directory is damaged"
            )
        d = ckpt.read_json(run_dir / rundir.DECODE)
        self.task_ = make_task(self.labels_, cfg.decode)
        self.task_.load_state(d)
        self.metric_names_ = list(d["metrics"])
        return self
