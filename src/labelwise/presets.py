"""Presets: a whole model chosen for the data at hand, by name (``fast``, ``balanced``, ``best``).

A preset reads what kind of task the training data is and how long its texts are, and
returns the ``model`` section of a config:

- ``fast``: the TF-IDF linear model with the settings chosen for the task kind, fitted once
  (C by text length, as the validation search chose on every set it was measured on);
- ``balanced``: that linear model fused with MiniLM-L3 fine-tuned for one epoch
  (``minilm-l3-short`` for short texts, ``minilm-l3-long``, head + tail, for long ones);
- ``best``: the linear model fused with MiniLM-L6 fine-tuned by its shipped recipe: for short
  texts ``minilm-l6-short`` (on SST-2 the fusion reached 89.4 against 86.8 with MiniLM-L3, at
  about 4x its fine-tuning cost); for long ones ``minilm-l6-long`` for about
  ``LONG_MIN_STEPS`` steps: one epoch where the data has that many batches, validated every
  third of it, up to the recipe's epochs on small data. On IMDB one epoch of MiniLM-L6 cost
  about what two of MiniLM-L3 did and was 1.8 points better alone on validation (92.1 against
  90.4; its best validation came at step 940 of 1,407); the fusions tied there (92.6 and 92.7).

On extreme tasks (thousands of labels) ``balanced`` and ``best`` fuse the one-vs-rest SVM with
a second linear view instead: a label tree over word uni- and bigrams (``EXTREME_TREE``). No
network measured on EURLEX57K's validation split added to the SVM in a fusion (MiniLM-L6 had
P@5 7.1 after a third of an epoch, 62 minutes of a core; the tree-shortlisted label-wise
attention head, P@5 60.3 alone, got weight 0), while the bigram tree (431 s of a core, a
fifth of the SVM's fit) took weight 0.15 and lifted P@5 from 70.37 to 70.50.

On small multi-class data (at most ``SMALL_PER_CLASS`` training texts a class) ``balanced``
and ``best`` take the few-shot recipe instead (``fewshot-minilm-l6``: MiniLM-L6 trained with
SupCon on two views of each text, then a linear probe, on a fixed schedule): fine-tuning
for an epoch is a handful of steps there, and a fusion's weights would be chosen on a
validation split of a few texts. On SST-2 that recipe matched SetFit at 8, 16 and 64
examples a class (``benchmarks/RESULTS.md``, "The four methods on pretrained encoders").

Every choice here was measured on validation splits (``benchmarks/RESULTS.md``, "Strong
defaults"); :func:`describe` says in words what a preset chose, for the user to see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelwise.config import Config, ConfigError, ModelConfig
from labelwise.types import Example, Task

PRESETS = ("fast", "balanced", "best")
SHORT_WORDS = 40  # median words per text up to which the 64-token recipe reads (nearly) all
SMALL_PER_CLASS = 64  # multi-class texts a class up to which balanced and best are few-shot
# steps the best preset fine-tunes for on long texts (as whole epochs, at most the recipe's):
# IMDB's validation peaked at step 940 of 1,407; SST-2's search chose 4 epochs of 433 steps
LONG_MIN_STEPS = 1_000
FEWSHOT_RECIPE = "fewshot-minilm-l6"
# LIBLINEAR's stopping tolerance in the fast preset: on the eight validation sets of the linear
# study (SST-2, GoEmotions, IMDB, 20 Newsgroups, all and 2,000-3,000 documents) 0.01 scored
# as scikit-learn's 1e-4 within 0.0001, with GoEmotions' fit 0.76x; 0.1 moved scores by up to
# 0.0046 (benchmarks/results/linear-defaults)
FAST_TOL = 0.01
# how balanced and best decide multi-label sets: a threshold per label (labels with fewer than
# 5 validation positives keep the global one). On GoEmotions' validation split (two seeded
# halves, tuned on one and measured on the other) the best preset's fusion scored micro /
# macro-F1 59.62 / 52.33 with them against 60.25 / 49.83 with one global threshold. The
# linear model alone loses more micro-F1 to them (-2.3 to -5.6 in the linear study), so the
# fast preset keeps the global one.
FUSION_MULTILABEL_THRESHOLDS = "per_label"
# the extreme tasks' second member: a label tree over a wider vocabulary than the SVM's (the
# tree's settings of configs/bench/systems/linear-tree.yaml, with word pairs)
EXTREME_TREE: dict[str, Any] = {
    "C": 1.0, "ngram_range": [1, 2], "max_features": 200_000, "tol": 0.01,
    "tree": {"routing_tol": 0.03},
}


@dataclass(frozen=True)
class DataProfile:
    """What a preset looks at: the task kind, the data size and the texts' length."""

    task: Task
    num_train: int
    num_labels: int
    median_words: float

    @classmethod
    def of(cls, train: Sequence[Example], task: Task) -> DataProfile:
        words = [len(e.text.split()) for e in train]
        labels = {lab for e in train for lab in e.labels}
        return cls(task, len(train), len(labels), float(np.median(words)) if words else 0.0)

    @property
    def short_texts(self) -> bool:
        return self.median_words <= SHORT_WORDS

    @property
    def few_shot(self) -> bool:
        """Multi-class data of at most ``SMALL_PER_CLASS`` training texts a class."""
        return self.task == Task.MULTICLASS and self.num_train <= SMALL_PER_CLASS * max(self.num_labels, 1)


def linear_settings(task: Task) -> dict[str, Any]:
    """The linear model's settings for a task kind: its defaults (C searched on validation)
    except for extreme tasks, where a fit costs minutes per thousand labels: there C = 1 is
    fitted once over word unigrams (LibMultiLabel's choice; on 5 % of EURLEX57K unigrams
    beat word pairs by 0.9 P@5 and fitted 3.6x faster)."""
    return {"C": 1.0, "ngram_range": [1, 1]} if task == Task.EXTREME else {}


def fast_linear_settings(profile: DataProfile) -> dict[str, Any]:
    """The fast preset's linear model: :func:`linear_settings` fitted once, with the C that
    the validation search of the default grid chose for the kind of text on every set of the
    linear study (short texts its smallest value, long ones its largest), instead of fitting
    the grid: the search cost about 1.5 fits. LIBLINEAR stops at ``FAST_TOL``."""
    settings = {"tol": FAST_TOL, **linear_settings(profile.task)}
    if "C" not in settings:
        from labelwise.linear import TfidfLinear

        grid = TfidfLinear.Config().C
        grid = grid if isinstance(grid, list) else [grid]
        settings["C"] = min(grid) if profile.short_texts else max(grid)
    return settings


def _linear(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` section of a linear model with ``settings``."""
    return {"type": "linear", "linear": settings}


def _neural(name: str, profile: DataProfile) -> dict[str, Any]:
    if name == "best":
        if profile.short_texts:
            return {"config": "minilm-l6-short"}
        return {"config": "minilm-l6-long", "set": _long_schedule("minilm-l6-long", profile.num_train)}
    recipe = "minilm-l3-short" if profile.short_texts else "minilm-l3-long"
    return {"config": recipe, "set": ["train.epochs=1"]}  # balanced


def _long_schedule(recipe: str, num_train: int) -> list[str]:
    """About ``LONG_MIN_STEPS`` steps of ``recipe`` as whole epochs (at most its own), and
    with a single epoch a validation every third of it, to keep its best point."""
    from labelwise.config.files import read_tree

    train = read_tree(recipe)["train"]
    steps = max(1, math.ceil(num_train / train["batch_size"]))
    epochs = min(train["epochs"], math.ceil(LONG_MIN_STEPS / steps))
    return [f"train.epochs={epochs}"] + ([f"train.eval_every={math.ceil(steps / 3)}"] if epochs == 1 else [])


def preset_tree(name: str, profile: DataProfile) -> dict[str, Any]:
    """The config sections that preset ``name`` chooses for ``profile``: ``model`` (and, for
    a neural model alone, its recipe's ``tokenizer`` and ``train`` keys; for a multi-label
    fusion, ``decode`` keys)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    tree: dict[str, Any] = {}
    if name == "fast":
        tree["model"] = _linear(fast_linear_settings(profile))
        return tree
    if profile.few_shot:  # the recipe alone: no fusion weights to choose on a few texts
        from labelwise.config.files import read_tree

        recipe = read_tree(FEWSHOT_RECIPE)
        return {k: v for k, v in recipe.items() if k in ("tokenizer", "model", "train", "pretrain")}
    if profile.task == Task.EXTREME:  # two linear views: no network measured added to the SVM
        tree["model"] = {"type": "fusion", "fusion": {"members": [
            {"config": {"model": _linear(linear_settings(profile.task))}},
            {"config": {"model": _linear(EXTREME_TREE)}}]}}
        return tree
    neural = _neural(name, profile)
    if profile.task == Task.HIERARCHICAL:  # a fusion does not decode hierarchies (yet)
        from labelwise.config.files import read_tree

        recipe = read_tree(neural["config"], neural.get("set", ()))
        tree.update({k: v for k, v in recipe.items() if k in ("tokenizer", "model", "train")})
        return tree
    tree["model"] = {"type": "fusion", "fusion": {"members": [{"config": {"model": _linear(linear_settings(profile.task))}},
                                                              neural]}}
    if profile.task == Task.MULTILABEL:
        tree["decode"] = {"tune_threshold": FUSION_MULTILABEL_THRESHOLDS}
    return tree


def describe(name: str, profile: DataProfile) -> str:
    """One line: what preset ``name`` chose for this data, and why."""
    kind = f"{profile.task.value}, {profile.num_train:,} training texts, {profile.num_labels:,} labels, " \
           f"median {profile.median_words:.0f} words"
    linear = "TF-IDF L2-loss SVM"
    if name == "fast":
        c = fast_linear_settings(profile)["C"]
        why = "thousands of labels: one fit over word unigrams" if profile.task == Task.EXTREME else \
            ("short texts" if profile.short_texts else "long texts")
        return f"preset fast ({kind}): the {linear}, C = {c:g} ({why})"
    if profile.few_shot:
        return (f"preset {name} ({kind}): at most {SMALL_PER_CLASS} texts a class, so MiniLM-L6 trained "
                f"few-shot: SupCon on two views of each text, then a linear probe ({FEWSHOT_RECIPE})")
    if profile.task == Task.EXTREME:
        return (f"preset {name} ({kind}): the {linear} (one-vs-rest) fused with a label tree over word uni- "
                "and bigrams, weights chosen on validation (on thousands of labels no network measured "
                "added to the SVM within a CPU budget)")
    neural = _neural(name, profile)
    epochs = next((f" for {s.split('=')[1]} epoch{'s' if s != 'train.epochs=1' else ''}"
                   for s in neural.get("set", ()) if s.startswith("train.epochs=")), "")
    model = "MiniLM-L6" if "-l6-" in neural["config"] else "MiniLM-L3"
    what = f"{model} fine-tuned{epochs} ({neural['config']})"
    if profile.task == Task.HIERARCHICAL:
        return f"preset {name} ({kind}): {what} (a fusion does not decode hierarchies)"
    thresholds = ", a threshold per label" if profile.task == Task.MULTILABEL else ""
    return f"preset {name} ({kind}): the {linear} fused with {what}, weights{thresholds} chosen on validation"


def apply_preset(cfg: Config, profile: DataProfile) -> Config:
    """``cfg`` with its preset resolved for ``profile``: the model (and, where the preset
    sets them, the tokenizer, training and decoding keys; decoding keys the config sets
    win) the preset chooses. The result has no preset left (its config.yaml says what was
    trained)."""
    from labelwise.components import validate_components
    from labelwise.config.files import build_config

    name = cfg.preset
    if name is None:
        return cfg
    if cfg.model != ModelConfig():
        raise ConfigError(f"preset '{name}' chooses the model, but the config sets the model section "
                          "too; drop the model section (or its --set model.* overrides), or the preset")
    chosen = preset_tree(name, profile)
    tree = cfg.model_dump(mode="json")
    tree["preset"] = None
    tree["model"] = chosen["model"]
    for section in ("tokenizer", "train"):
        tree[section].update(chosen.get(section, {}))
    # decoding keys the preset prefers, unless the config set them
    tree["decode"].update({k: v for k, v in chosen.get("decode", {}).items() if k not in cfg.decode.model_fields_set})
    if "pretrain" in chosen:
        if cfg.pretrain is not None:
            raise ConfigError(f"preset '{name}' chose a schedule with its own pre-training stage for this "
                              "data; drop the pretrain section, or the preset")
        tree["pretrain"] = chosen["pretrain"]
    resolved = build_config(tree, f"preset {name}")
    validate_components(resolved)
    return resolved


def resolve_preset(cfg: Config, train: Sequence[Example], has_hierarchy: bool) -> tuple[Config, str | None]:
    """``cfg`` with its preset (if any) resolved for the training examples, and the line
    that says what it chose (None without a preset)."""
    if cfg.preset is None:
        return cfg, None
    from labelwise.data.labels import infer_task
    from labelwise.tasks import resolve_task

    kind = resolve_task(cfg.task, has_hierarchy, lambda: infer_task(train))
    profile = DataProfile.of(train, kind)
    return apply_preset(cfg, profile), describe(cfg.preset, profile)
