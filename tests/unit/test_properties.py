"""Property-based tests (hypothesis) of the readers, the label space and the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labelwise.data.formats import read_examples
from labelwise.data.labels import LabelSpace
from labelwise.evaluation import evaluate_scores
from labelwise.types import Example, Task

LABEL = st.text(alphabet="abcdefghij", min_size=1, max_size=4)
TEXT = st.text(min_size=1, max_size=40).filter(lambda t: t.strip() != "")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(st.tuples(TEXT, st.lists(LABEL, min_size=1, max_size=3, unique=True)), min_size=1, max_size=15))
def test_jsonl_round_trip(tmp_path: Path, records: list[tuple[str, list[str]]]) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"text": t, "labels": y}) + "\n" for t, y in records), encoding="utf-8")
    got = read_examples(path)
    assert [(e.text, list(e.labels)) for e in got] == records


@SETTINGS
@given(st.lists(st.lists(LABEL, min_size=0, max_size=3, unique=True), min_size=1, max_size=20)
       .filter(lambda sets: any(sets)))  # no label anywhere is an error, tested elsewhere
def test_label_space_encode_decode_round_trip(label_sets: list[list[str]]) -> None:
    examples = [Example(f"doc {i}", tuple(y)) for i, y in enumerate(label_sets)]
    space = LabelSpace.fit(examples, Task.MULTILABEL)
    y = space.encode_many(examples)
    assert y.shape == (len(examples), len(space.classes))
    for row, labels in zip(y, label_sets, strict=True):
        assert sorted(space.decode(row > 0)) == sorted(labels)
    assert len(set(space.classes)) == len(space.classes)
    again = LabelSpace.from_json(space.to_json())
    assert list(again.classes) == list(space.classes)


def _multi_hot(n: int, labels: int) -> st.SearchStrategy[np.ndarray]:
    return arrays(np.bool_, (n, labels))


@SETTINGS
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(_multi_hot(n, 5), _multi_hot(n, 5),
                                                       st.permutations(list(range(n))))))
def test_micro_f1_and_hamming_ignore_document_order(case: tuple[np.ndarray, np.ndarray, list[int]]) -> None:
    pred, true, perm = case
    scores = pred.astype(np.float32)
    names = ["micro_f1", "macro_f1", "hamming_loss", "accuracy"]
    a = evaluate_scores(names, scores, pred, true)
    b = evaluate_scores(names, scores[perm], pred[perm], true[perm])
    for k in names:
        assert abs(a[k] - b[k]) < 1e-9, k
        assert 0.0 <= a[k] <= 1.0


@SETTINGS
@given(st.integers(1, 10).flatmap(lambda n: st.tuples(
    arrays(np.float32, (n, 6), elements=st.floats(-5, 5, width=32)), _multi_hot(n, 6))))
def test_ranking_metrics_stay_in_unit_interval(case: tuple[np.ndarray, np.ndarray]) -> None:
    scores, true = case
    names = ["p@1", "p@3", "p@5", "ndcg@3", "r@3", "rprec@5"]
    out = evaluate_scores(names, scores, scores > 0, true)
    for k in names:
        assert 0.0 <= out[k] <= 1.0 + 1e-9, (k, out[k])
