"""Export a trained neural run to ONNX, and predict with the export through ONNX Runtime.

An export directory holds::

    model.onnx          the network: (input_ids, attention_mask) -> logits
    model.int8.onnx     (optional) the same with int8 weights (dynamic quantisation)
    tokenizer.json      the run's tokenizer
    labels.json, decode.json, config.yaml, run.json   copied from the run
    export.json         what the graph expects: input/output names, opset, max_length, ...

The graph takes ``input_ids`` (B, T) int64 and ``attention_mask`` (B, T) int64 (1 on real
tokens, 0 on padding), both with dynamic B and T, and returns ``logits`` (B, L) float32.
Long documents cut into chunks are pooled outside the graph, so each row of the graph is
one chunk; :class:`OnnxPredictor` does the tokenising and batching, and pools a document's
chunk logits with the run's own pooling component (:mod:`labelwise.models.pooling`: max,
or PLANT's stateful decoder), the very code the PyTorch model runs in its forward.

Scores and decisions from logits are those of :class:`~labelwise.estimator.TextClassifier`
itself: the predictor rebuilds the estimator from the copied run files and hands it the
ONNX logits, so every task (multi-class, multi-label, hierarchical, extreme) decodes the
same way as the PyTorch model.

The graph is traced with PyTorch's TorchScript exporter (``dynamo=False``; the dynamo
exporter would need ``onnxscript``). The encoders are written to trace: no floor division
of negative traced lengths (the exporter truncates), no ``unfold`` over a dynamic length.
BiLSTM's packed sequences export as they are.

A fusion run exports as its own run files with each member under its ``members/<i>/``
path: a neural member as the export above, a linear member copied as the run it is (a few
arrays, no network). :class:`OnnxPredictor` reads such a folder as one predictor.

Importing ``labelwise`` imports torch, so the predictor is not torch-free; the network
runs in ONNX Runtime, and torch only pools the chunk logits of chunked documents.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from labelwise import checkpoint as ckpt
from labelwise import rundir
from labelwise.models.pooling import ChunkPooling, make_pooling
from labelwise.shortlist import Shortlister, keep_candidates

if TYPE_CHECKING:
    from labelwise.backends.fusion import FusionBackend
    from labelwise.data.tokenize import TextTokenizer
    from labelwise.estimator import TextClassifier

EXPORT_FORMAT_VERSION = 1
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAMES = ("logits",)
MODEL_FILE = "model.onnx"
QUANTIZED_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"
COPIED_FILES = (rundir.TOKENIZER, rundir.LABELS, rundir.DECODE, rundir.CONFIG, rundir.RUN_INFO)
# a run with model.shortlist: the linear model proposing each document's labels, beside the graph
SHORTLIST_FILES = tuple(f"{rundir.SHORTLIST_DIR}/{name}" for name in (rundir.LINEAR_TENSORS, rundir.LINEAR_META))


# ----------------------------------------------------------------------------------------
# export


def _logits_module(model: torch.nn.Module) -> torch.nn.Module:
    """Wrap a ``Classifier`` as a module returning its logits (B, L) alone.

    Only the encoder and the head run; the projection head (contrastive embeddings) does
    not take part in the logits, so it is left out of the graph.
    """
    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """(B, T) int64 ids and (B, T) int64/bool mask -> (B, L) logits."""
            enc = self.inner.encode(input_ids, attention_mask.bool())  # type: ignore[operator]
            logits: torch.Tensor = self.inner.head(enc).logits  # type: ignore[operator]
            return logits

    return LogitsOnly(model).eval()


def _export_graph(
    model: torch.nn.Module, path: Path, opset: int, tokenizer: TextTokenizer, max_len: int
) -> None:
    """Trace ``model`` (logits only) into ``path`` with dynamic batch and sequence axes."""
    wrapped = _logits_module(model)
    # an example batch of two rows, one of them padded, so that masking is traced too
    T = max(4, min(max_len, 12))
    ids = torch.full((2, T), tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros((2, T), dtype=torch.long)
    for row, n in enumerate((T, T // 2)):
        ids[row, :n] = torch.tensor([tokenizer.cls_id] + [tokenizer.sep_id] * (n - 1))
        mask[row, :n] = 1
    axes = {"input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter is deprecated in favour of the dynamo one (which needs
        # onnxscript) and warns about traced Python conditions that only check lengths
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped, (ids, mask), str(path), dynamo=False, opset_version=opset,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
            dynamic_axes=axes, do_constant_folding=True,
        )


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation of ``src``'s weights into ``dst`` (activations stay float).

    Weights use 7 bits (``reduce_range``): on x86 CPUs without VNNI (AVX2 only) the u8 x s8
    products of two neighbours are summed in 16 bits and can saturate, which with 8-bit
    weights moved scores by up to 0.055 on the export tests' tiny models (AMD EPYC, AVX2);
    with 7 bits at most 0.0035, on any CPU. Each output channel has its own scale
    (``per_channel``): with one scale a matrix, 7 bits cost MiniLM-L6 fine-tuned on SST-2
    1.8 points of validation accuracy (85.9 against 87.7 in fp32); with one a channel it
    kept them (88.8), within 6 % of the speed (``benchmarks/int8_variants.py``)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    def not_advice(record: logging.LogRecord) -> bool:
        # onnxruntime logs, on the root logger, advice to run its shape-inference
        # pre-processing first (optional for dynamic quantisation), and a multi-line dump
        # of each integer tensor it leaves unquantised (ids, shapes: as it should)
        message = record.getMessage()
        return not ("pre-processing before quantization" in message
                    or "unsupported type to quantize" in message)

    root = logging.getLogger()
    root.addFilter(not_advice)
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, reduce_range=True, per_channel=True)
    finally:
        root.removeFilter(not_advice)


def export_onnx(
    run_dir: str | Path, out_dir: str | Path, quantize: bool = False, opset: int = 17
) -> Path:
    """Export the neural model of ``run_dir`` to ONNX in ``out_dir``.

    Writes ``model.onnx`` (and ``model.int8.onnx`` with ``quantize``), copies the run's
    tokenizer, labels, decode thresholds, config and run info, and writes ``export.json``.
    Every file is written atomically.

    Args:
        run_dir: a complete labelwise run directory of a neural model.
        out_dir: where to write the export (created if needed).
        quantize: also write an int8-weight copy (``onnxruntime.quantization``).
        opset: ONNX opset version of the graph.

    Returns:
        The path of ``model.onnx``.

    Raises:
        ValueError: the run is a TF-IDF linear model, or its encoder cannot be exported.
    """
    from labelwise.estimator import TextClassifier

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if run_dir.is_dir():
        backend = ckpt.check_run_info(run_dir).get("backend")
        if backend == "fusion":
            return _export_fusion(run_dir, out_dir, quantize, opset)
        if backend != "neural":
            raise ValueError(f"ONNX export is for neural models (and fusions with them); the run "
                             f"'{run_dir}' is a {backend} (TF-IDF) model, which has no network to "
                             "export. Use it with TextClassifier.load or 'labelwise predict' instead")
    clf = TextClassifier.load(run_dir)
    try:
        model, tokenizer = clf.backend_.network()
    except ValueError as err:
        raise ValueError(f"ONNX export is for neural models; '{run_dir}': {err}") from None
    if hasattr(model, "compute_dtype"):
        model.compute_dtype = None  # the graph computes in float32 (onnxruntime quantises it)
    cfg = clf.config_
    enc_name = str(cfg.model.encoder["name"])
    encoder = getattr(model, "encoder", None)
    max_len = int(getattr(getattr(encoder, "config", None), "max_len", cfg.tokenizer.max_length))

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    try:
        ckpt.atomic_write(
            model_path,
            lambda p: _export_graph(model, p, opset, tokenizer, max_len),
        )
    except Exception as err:
        raise ValueError(
            f"encoder '{enc_name}' could not be exported to ONNX (opset {opset}): {err}"
        ) from err
    if quantize:
        ckpt.atomic_write(out_dir / QUANTIZED_FILE, lambda p: _quantize(model_path, p))
    _copy_files(run_dir, out_dir, COPIED_FILES)
    if cfg.model.shortlist is not None:
        (out_dir / rundir.SHORTLIST_DIR).mkdir(exist_ok=True)
        _copy_files(run_dir, out_dir, SHORTLIST_FILES)

    from labelwise.version import __version__

    t = cfg.tokenizer
    ckpt.write_json(out_dir / EXPORT_FILE, {
        "format": "labelwise-onnx",
        "format_version": EXPORT_FORMAT_VERSION,
        "labelwise_version": __version__,
        "torch_version": str(torch.__version__),
        "exporter": "torchscript",
        "opset": opset,
        "inputs": [
            {"name": INPUT_NAMES[0], "dtype": "int64", "shape": ["batch", "sequence"]},
            {"name": INPUT_NAMES[1], "dtype": "int64", "shape": ["batch", "sequence"]},
        ],
        "outputs": [{"name": OUTPUT_NAMES[0], "dtype": "float32", "shape": ["batch", len(clf.classes_)]}],
        "task": clf.task_.value,
        "num_labels": len(clf.classes_),
        "encoder": enc_name,
        "tokenizer_kind": tokenizer.kind,
        "pad_id": tokenizer.pad_id,
        "max_length": t.max_length,
        "long_documents": t.long_documents,  # how documents are read: the run's config.yaml
        "max_chunks": t.max_chunks,
        # the graph scores every label; the predictor keeps each document's shortlist
        "shortlist": None if cfg.model.shortlist is None else cfg.model.shortlist.size,
        "eval_batch_size": cfg.train.eval_batch_size,
        "models": {"fp32": MODEL_FILE, **({"int8": QUANTIZED_FILE} if quantize else {})},
    })
    return model_path


HF_MODELING = "modeling_labelwise.py"  # the model's code in a Hugging Face export folder


def export_hf(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the run as a Hugging Face ``transformers`` folder: ``config.json`` (the encoder's
    config, the pooling, the head, ``id2label``), ``model.safetensors``, the tokenizer, and
    the model's code (:mod:`labelwise.hf_modeling`, as ``modeling_labelwise.py``), so that
    ``AutoModelForSequenceClassification`` and ``pipeline("text-classification")`` load it
    with ``trust_remote_code=True`` and give the run's scores.

    For a neural run of a pretrained encoder (``model.encoder.name: pretrained``) under a
    linear head. Returns the folder.

    Raises:
        ValueError: another kind of run.
    """
    import inspect

    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    from labelwise import hf_modeling
    from labelwise.estimator import TextClassifier

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    clf = TextClassifier.load(run_dir)
    cfg = clf.config_
    if cfg.model.type != "neural" or cfg.model.encoder.get("name") != "pretrained" \
            or cfg.model.head.get("name") != "linear":
        raise ValueError(f"Hugging Face export is for a fine-tuned pretrained encoder under a linear head "
                         f"(model.encoder.name pretrained, model.head.name linear); '{run_dir}' is "
                         f"{cfg.model.type} {cfg.model.encoder.get('name')}/{cfg.model.head.get('name')}. "
                         "Export it to ONNX instead")
    if clf.task_.value == "hierarchical":
        raise ValueError("Hugging Face export: a hierarchical run decodes its levels with its hierarchy, "
                         "which a sequence-classification model has no place for; export it to ONNX")
    model, tokenizer = clf.backend_.network()
    encoder = model.encoder.model  # type: ignore[union-attr]
    head = model.head  # type: ignore[union-attr]
    classes = [str(c) for c in clf.classes_]
    config = hf_modeling.LabelwiseConfig(
        encoder=encoder.config.to_dict(), pooling=cfg.model.encoder.get("pooling", "mean"),
        head_hidden_dim=cfg.model.head.get("hidden_dim"),
        id2label=dict(enumerate(classes)), label2id={c: i for i, c in enumerate(classes)},
        problem_type="single_label_classification" if clf.task_.value == "multiclass"
        else "multi_label_classification",
        architectures=["LabelwiseForSequenceClassification"],
        auto_map={"AutoConfig": "modeling_labelwise.LabelwiseConfig",
                  "AutoModelForSequenceClassification": "modeling_labelwise.LabelwiseForSequenceClassification"},
    )
    weights = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    weights.update({f"head.{k.removeprefix('net.')}": v for k, v in head.state_dict().items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt.atomic_write(out_dir / "model.safetensors",
                      lambda p: save_file({k: v.contiguous() for k, v in weights.items()}, str(p),
                                          metadata={"format": "pt"}))
    ckpt.write_text(out_dir / "config.json", config.to_json_string())
    ckpt.write_text(out_dir / HF_MODELING, inspect.getsource(hf_modeling))
    tok = tokenizer._tok  # the tokenizers.Tokenizer the run encodes with
    names = {role: tok.id_to_token(i) for role, i in
             (("pad_token", tokenizer.pad_id), ("cls_token", tokenizer.cls_id), ("sep_token", tokenizer.sep_id))}
    PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=cfg.tokenizer.max_length,
                            **names).save_pretrained(str(out_dir))
    return out_dir


def _copy_files(src: Path, dst: Path, names: Sequence[str]) -> None:
    """Copy the files ``names`` of folder ``src`` into ``dst``, each written atomically."""
    for name in names:
        data = (src / name).read_bytes()
        ckpt.atomic_write(dst / name, lambda p, data=data: p.write_bytes(data))  # type: ignore[misc]


def _export_fusion(run_dir: Path, out_dir: Path, quantize: bool, opset: int) -> Path:
    """A fusion's export: its run files and ``fusion.json`` with every member under the same
    ``members/<i>/`` path, a neural member exported to ONNX there and any other member
    (a linear model: a few arrays, no network) copied as the run it is. Returns the path
    of ``export.json``; :class:`OnnxPredictor` reads the folder as one predictor."""
    state = ckpt.read_json(run_dir / rundir.FUSION)
    kinds = []
    for member in state["members"]:
        src, dst = run_dir / member, out_dir / member
        kind = ckpt.check_run_info(src).get("backend")
        if kind == "neural":
            export_onnx(src, dst, quantize=quantize, opset=opset)
        elif kind == "linear":
            dst.mkdir(parents=True, exist_ok=True)
            _copy_files(src, dst, sorted(q.name for q in src.iterdir() if q.is_file()))
        else:
            raise ValueError(f"ONNX export of a fusion: member '{src}' is a {kind} model; only neural "
                             "and linear members can be exported")
        kinds.append(kind)
    _copy_files(run_dir, out_dir, (rundir.LABELS, rundir.DECODE, rundir.CONFIG, rundir.RUN_INFO, rundir.FUSION))
    from labelwise.version import __version__

    info = ckpt.read_json(run_dir / rundir.RUN_INFO)
    path = out_dir / EXPORT_FILE
    ckpt.write_json(path, {
        "format": "labelwise-onnx", "format_version": EXPORT_FORMAT_VERSION, "kind": "fusion",
        "labelwise_version": __version__, "task": info["task"], "members": state["members"],
        "member_kinds": kinds, "quantized": quantize,
    })
    return path


# ----------------------------------------------------------------------------------------
# inference with ONNX Runtime


def _pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Ragged id lists (R,) -> input_ids (R, T) int64 and attention_mask (R, T) int64,
    right-padded to the longest row (as ``labelwise.data.collate.pad_ids``)."""
    width = max(1, max(len(r) for r in rows))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask


class _OnnxLogits:
    """Stands in for the estimator's backend: ``logits(texts)`` computed by ONNX Runtime."""

    kind = "onnx"

    def __init__(self, predictor: OnnxPredictor) -> None:
        self.predictor = predictor
        self.train_state: dict[str, Any] = {}

    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None,
               shard: bool = False) -> np.ndarray:
        """(N, L) logits; ``shard`` is accepted for the backend's signature (one process)."""
        return self.predictor.logits(texts, on_batch)


def _estimator_from(export_dir: Path) -> TextClassifier:
    """The run's ``TextClassifier`` without its network, from the copied run files."""
    from labelwise.estimator import TextClassifier

    return TextClassifier.load_decoding(export_dir)


class OnnxPredictor:
    """Predict with an export directory written by :func:`export_onnx`, on CPU.

    Tokenising, truncation or chunking, length-sorted batching and the max over chunks
    follow the PyTorch path (``NeuralBackend.logits``); scores and decisions are computed by
    the run's own ``TextClassifier`` (see :attr:`classifier`).

    Args:
        export_dir: a directory written by :func:`export_onnx`.
        quantized: use ``model.int8.onnx`` instead of ``model.onnx``.
        threads: ONNX Runtime intra-op threads (None: its default, all cores).
        batch_size: rows per run of the graph (None: the run's ``train.eval_batch_size``).
    """

    def __init__(
        self,
        export_dir: str | Path,
        quantized: bool = False,
        threads: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        from labelwise.data.tokenize import TextTokenizer

        self.export_dir = Path(export_dir)
        self.fusion: FusionBackend | None = None  # an exported fusion's members, fused
        self.info: dict[str, Any] = ckpt.read_json(self.export_dir / EXPORT_FILE)
        version = self.info.get("format_version")
        if version != EXPORT_FORMAT_VERSION:
            raise ckpt.CheckpointError(
                f"{self.export_dir}/{EXPORT_FILE} has format_version {version!r}; this "
                f"labelwise reads version {EXPORT_FORMAT_VERSION}. Export the run again"
            )
        if self.info.get("kind") == "fusion":
            self._load_fusion(quantized, threads, batch_size)
            return
        file = self.info["models"].get("int8" if quantized else "fp32")
        if file is None or not (self.export_dir / file).is_file():
            what = "int8 model (export it with quantize=True, or --quantize)" if quantized else MODEL_FILE
            raise ckpt.CheckpointError(f"'{self.export_dir}' has no {what}")
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.export_dir / file), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.tokenizer: TextTokenizer = TextTokenizer.load(
            self.export_dir / rundir.TOKENIZER, str(self.info.get("tokenizer_kind", "wordpiece"))
        )
        self.batch_size = int(batch_size or self.info["eval_batch_size"])
        self.classifier: TextClassifier = _estimator_from(self.export_dir)
        self.classifier.backend_ = _OnnxLogits(self)  # type: ignore[assignment]
        self.pooling = make_pooling(ChunkPooling.of(self.classifier.config_.model))
        shortlist = self.classifier.config_.model.shortlist
        self.shortlister: Shortlister | None = None
        if shortlist is not None:
            self.shortlister = Shortlister.load(self.export_dir / rundir.SHORTLIST_DIR, shortlist.size)

    def _load_fusion(self, quantized: bool, threads: int | None, batch_size: int | None) -> None:
        """A fusion's export: its members (ONNX predictors, or runs as they are) fused as the
        fusion run fuses them."""
        from labelwise.backends.fusion import FusionBackend
        from labelwise.estimator import TextClassifier

        def member(path: Path) -> TextClassifier:
            if (path / EXPORT_FILE).is_file():
                return OnnxPredictor(path, quantized, threads, batch_size).classifier
            return TextClassifier.load(path)

        self.classifier = _estimator_from(self.export_dir)
        backend = FusionBackend(self.classifier.config_)
        backend.load(self.export_dir, len(self.classifier.classes_), load_member=member)
        self.classifier.backend_ = backend  # type: ignore[assignment]
        self.fusion = backend

    @property
    def classes_(self) -> list[str]:
        """Label names; the columns of ``logits`` and ``predict_proba``."""
        return self.classifier.classes_

    def _docs(self, texts: Sequence[str]) -> list[list[list[int]]]:
        """Each text as a list of chunks of ids, as the run reads documents."""
        return self.tokenizer.documents(texts, self.classifier.config_.tokenizer)

    def logits(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Raw scores (N, L) float32 for ``texts``, in their order.

        Documents are sorted by length (longest first) and cut into batches of
        ``batch_size`` documents; chunked documents put each chunk in a row of the graph
        and take the max over their chunks' logits.
        """
        from labelwise.data.collate import batch_order

        if isinstance(texts, str):
            raise TypeError("logits(texts): expected a list of texts, got a single string")
        if self.fusion is not None:
            return self.fusion.logits(list(texts), on_batch)
        docs = self._docs(list(texts))
        if not docs:
            raise ValueError("nothing to predict: the input has no documents")
        lengths = [sum(len(c) for c in d) for d in docs]
        result: np.ndarray | None = None
        for idx in batch_order(lengths, self.batch_size, shuffle=False):
            rows = [chunk for i in idx for chunk in docs[i]]
            ids, mask = _pad(rows, self.tokenizer.pad_id)
            out = self.session.run(list(OUTPUT_NAMES), {INPUT_NAMES[0]: ids, INPUT_NAMES[1]: mask})
            chunk_logits = np.asarray(out[0], dtype=np.float32)  # (R, L)
            if len(rows) == len(idx):
                doc_logits = chunk_logits
            else:  # (R, L) chunks -> (B, L) documents, as the run's model pools them
                owner = np.repeat(np.arange(len(idx)), [len(docs[i]) for i in idx])  # (R,)
                with torch.inference_mode():
                    doc_logits = self.pooling(torch.from_numpy(chunk_logits), torch.from_numpy(owner),
                                              len(idx)).numpy()
            if result is None:
                result = np.zeros((len(docs), doc_logits.shape[1]), dtype=np.float32)
            result[idx] = doc_logits
            if on_batch is not None:
                on_batch(len(idx))
        assert result is not None
        if self.shortlister is not None:  # as the run scores: each document's shortlist alone
            result = keep_candidates(result, self.shortlister.candidates(list(texts)))
        return result

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(N, L) scores, the run's task transformation of the logits (softmax, sigmoid,
        per-level softmax or parent-capped sigmoids); columns follow ``classes_``."""
        return self.classifier.predict_proba(texts)

    def predict(self, texts: Sequence[str]) -> list[Any]:
        """Label names: one per text (multi-class) or a list per text (the other tasks),
        decided with the run's tuned thresholds."""
        return self.classifier.predict(texts)

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """Scores (N, L) -> decisions (N, L) bool, as ``TextClassifier.decide``."""
        return self.classifier.decide(scores)


def read_export_info(export_dir: str | Path) -> dict[str, Any]:
    """The parsed ``export.json`` of an export directory."""
    info: dict[str, Any] = json.loads((Path(export_dir) / EXPORT_FILE).read_text(encoding="utf-8"))
    return info
