"""Are explanations faithful? Deleting the k tokens an explanation weighs most should lower
the label's score more than deleting k tokens at random.

    python benchmarks/faithfulness.py --runs runs/bench/eurlex57k-lant@sl-frac0.05-s13 \\
        --dataset eurlex57k --docs 200 --k 1 5 10

For each run, ``--docs`` test documents (a seeded sample) are explained
(:func:`labelwise.explain.explain`, the labels each is given). For every (document, label):

- label-wise attention runs: the k word pieces of highest attention (special tokens aside)
  are removed from the token ids the model reads, and the label is scored again; the same
  for k positions drawn at random (``--draws`` draws, averaged);
- linear runs: the k words of highest weight are removed from the text, against k random
  words.

Reported per k: the mean drop of the label's score (its probability: softmax or sigmoid)
for the top-k and the random deletions, and the share of (document, label) pairs where the
top-k deletion lowered the score more. Writes ``benchmarks/results/faithfulness/<dataset>.json``
(rows of other runs kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "faithfulness"


def _attention_scores(clf: Any, docs: list[list[list[int]]], label: int) -> np.ndarray:
    """The label's score for each document given as chunks of ids (as the run reads them)."""
    import torch

    from labelwise.data.collate import collate
    from labelwise.models.heads.label_subset import scoring_labels
    from labelwise.training.dataset import forward_docs

    model, _ = clf.backend_.network()
    batch = collate(docs, clf.backend_.tokenizer.pad_id)
    if clf.task_.distributional:  # a softmax needs every label's logit
        with torch.inference_mode():
            logits = forward_docs(model, batch).logits.float().numpy()
        return clf.task_.scores(logits)[:, label]
    with torch.inference_mode(), scoring_labels(model.head, torch.tensor([label])):  # a sigmoid: this label's
        logits = forward_docs(model, batch).logits.float().numpy()
    return clf.task_.scores(logits)[:, 0]


def _attention_drops(clf: Any, text: str, item: dict, k: int, draws: int, rng: np.random.Generator) -> tuple[float, float]:
    tok = clf.backend_.tokenizer
    label = clf.classes_.index(item["label"])
    [chunks] = tok.documents([text], clf.config_.tokenizer)
    # the explanation's tokens are every position of every chunk, in order
    positions = [(r, t) for r, chunk in enumerate(chunks) for t in range(len(chunk))]
    kept = [i for i, (r, t) in enumerate(positions) if chunks[r][t] not in (tok.cls_id, tok.sep_id)]
    flat = [positions[i] for i in kept]
    weights = np.array([item["tokens"][i][1] for i in kept])
    if len(flat) <= k:
        return float("nan"), float("nan")

    def without(positions: list[tuple[int, int]]) -> list[list[int]]:
        gone = set(positions)
        return [[tid for t, tid in enumerate(chunk) if (r, t) not in gone] for r, chunk in enumerate(chunks)]

    top = [flat[i] for i in np.argsort(-weights, kind="stable")[:k]]
    variants = [without(top)] + [without([flat[i] for i in rng.choice(len(flat), k, replace=False)])
                                 for _ in range(draws)]
    scores = _attention_scores(clf, [chunks, *variants], label)
    return float(scores[0] - scores[1]), float(scores[0] - scores[2:].mean())


def _linear_drops(clf: Any, rec: dict, item: dict, k: int, draws: int, rng: np.random.Generator) -> tuple[float, float]:
    words = rec["words"]["tokens"]
    weights = np.asarray(rec["words"]["weights"][item["label"]])
    if len(words) <= k:
        return float("nan"), float("nan")
    label = clf.classes_.index(item["label"])
    top = set(np.argsort(-weights, kind="stable")[:k].tolist())
    texts = [" ".join(words), " ".join(w for i, w in enumerate(words) if i not in top)]
    for _ in range(draws):
        gone = set(rng.choice(len(words), k, replace=False).tolist())
        texts.append(" ".join(w for i, w in enumerate(words) if i not in gone))
    scores = clf.predict_proba(texts)[:, label]
    return float(scores[0] - scores[1]), float(scores[0] - scores[2:].mean())


def _explained_by(clf: Any) -> str:
    """How the run's explanations are made: the linear model's shares, a label-wise head's
    attention, or integrated gradients over a network's token embeddings."""
    from labelwise.explain import ATTENTION_HEADS

    m = clf.config_.model
    if m.type == "linear":
        return "linear"
    head = str(m.head.get("name"))
    if head in ATTENTION_HEADS:
        return head
    encoder = m.encoder.get("model") if m.encoder.get("name") == "pretrained" else m.encoder.get("name")
    return f"integrated gradients ({encoder})"


def measure(run: Path, texts: list[str], ks: list[int], draws: int, seed: int) -> dict:
    from labelwise import TextClassifier
    from labelwise.explain import explain

    clf = TextClassifier.load(run)
    t0 = time.perf_counter()
    records = explain(clf, texts)
    linear = clf.config_.model.type == "linear"
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run),
                           "model": _explained_by(clf),
                           "pairs": sum(len(r["labels"]) for r in records), "by_k": {}}
    for k in ks:
        top, rand = [], []
        for text, rec in zip(texts, records, strict=True):
            for item in rec["labels"]:
                a, b = (_linear_drops(clf, rec, item, k, draws, rng) if linear
                        else _attention_drops(clf, text, item, k, draws, rng))
                if not np.isnan(a):
                    top.append(a)
                    rand.append(b)
        t, r = np.array(top), np.array(rand)
        out["by_k"][str(k)] = {"top_drop": float(t.mean()), "random_drop": float(r.mean()),
                               "top_beats_random": float((t > r).mean()), "pairs": len(t)}
    out["seconds"] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="*", default=[], type=Path)
    p.add_argument("--train-linear", action="store_true",
                   help="also train the fast preset's linear model on the dataset (runs/faithfulness/) and measure it")
    p.add_argument("--train-recipe", help="also train this shipped recipe (e.g. minilm-l3-short) on the dataset "
                                          "(runs/faithfulness/) and measure it")
    p.add_argument("--dataset", required=True)
    p.add_argument("--docs", type=int, default=200)
    p.add_argument("--k", nargs="+", type=int, default=[1, 5, 10])
    p.add_argument("--draws", type=int, default=5, help="random deletions averaged per (document, label)")
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args(argv)
    import torch

    from labelwise.data.catalog import load_splits, resolve_data_dir
    from labelwise.data.formats import read_examples
    from labelwise.profiling import device_name

    test = read_examples(load_splits(args.dataset, resolve_data_dir(None)).test)
    pick = np.random.default_rng(args.seed).choice(len(test), min(args.docs, len(test)), replace=False)
    texts = [test[i].text for i in sorted(pick)]
    path = OUT / f"{args.dataset}.json"
    old = json.loads(path.read_text()) if path.is_file() else {"rows": []}
    rows = {r["run"]: r for r in old["rows"]}
    runs = list(args.runs)
    if args.train_linear:
        from labelwise.components import load_config
        from labelwise.runner import train_run

        linear = ROOT / "runs" / "faithfulness" / f"{args.dataset}-preset-fast-s{args.seed}"
        if not (linear / "run.json").is_file():
            train_run(load_config(None, [f"data.dataset={args.dataset}", "preset=fast", f"train.seed={args.seed}"]),
                      linear, overwrite=True)
        runs.append(linear.relative_to(ROOT))
    if args.train_recipe:
        from labelwise.components import load_config
        from labelwise.runner import train_run

        trained = ROOT / "runs" / "faithfulness" / f"{args.dataset}-{args.train_recipe}-s{args.seed}"
        if not (trained / "run.json").is_file():
            train_run(load_config(args.train_recipe, [f"data.dataset={args.dataset}", f"train.seed={args.seed}",
                                                      "train.progress=false"]), trained, overwrite=True)
        runs.append(trained.relative_to(ROOT))
    for run in runs:
        row = measure(run.resolve(), texts, args.k, args.draws, args.seed)
        what = f"--runs {run}"
        if args.train_recipe and run == runs[-1]:
            what = f"--train-recipe {args.train_recipe}"
        elif args.train_linear and "preset-fast" in str(run) and str(run).startswith("runs/faithfulness"):
            what = "--train-linear"
        row["command"] = (f"python benchmarks/faithfulness.py {what} --dataset {args.dataset} --docs {args.docs} "
                          f"--k {' '.join(map(str, args.k))} --draws {args.draws} --seed {args.seed}")
        row["device"], row["torch_threads"], row["date"] = device_name(), torch.get_num_threads(), time.strftime("%Y-%m-%d")
        rows[row["run"]] = row
        print(json.dumps(row), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dataset": args.dataset, "docs": len(texts), "seed": args.seed,
                                "rows": list(rows.values())}, indent=2) + "\n")
    from make_results_md import faithfulness_table  # benchmarks/: the one table format

    print(faithfulness_table(args.dataset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
