"""Data where users keep it: pandas DataFrames, Arrow tables and Hugging Face datasets in
the API; Parquet files; other column names (data.text_column, data.label_column) in JSON
Lines, CSV and Parquet, through the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelwise import TextClassifier
from labelwise.data import DataError, read_examples
from tests.integration.test_sklearn import LINEAR, X, Y

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def test_a_dataframe_an_arrow_table_and_a_dataset_fit_like_lists() -> None:
    datasets = pytest.importorskip("datasets")
    ref = TextClassifier(**LINEAR).fit(X, Y)
    frame = pd.DataFrame({"text": X, "labels": Y, "other": range(len(X))})
    class_ids = sorted(set(Y))
    hf = datasets.Dataset.from_dict(
        {"sentence": X, "label": [class_ids.index(y) for y in Y]},
        features=datasets.Features({"sentence": datasets.Value("string"),
                                    "label": datasets.ClassLabel(names=class_ids)}))
    fits = {
        "DataFrame": TextClassifier(**LINEAR).fit(frame),
        "DataFrame, y": TextClassifier(**LINEAR).fit(frame, frame["labels"]),
        "Table": TextClassifier(**LINEAR).fit(pa.Table.from_pandas(frame)),
        # a datasets ClassLabel column: its integers become the class names
        "Dataset": TextClassifier(**LINEAR, data__text_column="sentence", data__label_column="label").fit(hf),
    }
    for name, clf in fits.items():
        assert clf.classes_ == ref.classes_, name
        assert clf.predict(X[:10]) == ref.predict(X[:10]), name
    assert fits["DataFrame"].predict(frame) == ref.predict(X)  # predict reads the text column
    assert fits["Dataset"].score(hf) == pytest.approx(ref.score(X, Y))
    with pytest.raises(ValueError, match="no column 'body'"):
        TextClassifier(**LINEAR, data__text_column="body").fit(frame)
    with pytest.raises(TypeError, match="give the labels y"):
        TextClassifier(**LINEAR).fit(X)


def test_parquet_and_other_column_names_in_files(tmp_path: Path) -> None:
    frame = pd.DataFrame({"body": X, "label": Y})
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "train.parquet")
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps({"body": t, "label": y}) + "\n" for t, y in zip(X, Y, strict=True)))
    for name in ("train.parquet", "train.csv", "train.jsonl"):
        rows = read_examples(tmp_path / name, text_column="body", label_column="label")
        assert [(e.text, e.labels) for e in rows] == [(t, (y,)) for t, y in zip(X, Y, strict=True)], name
        with pytest.raises(DataError, match="body"):
            read_examples(tmp_path / name)  # the default names are not there: the error says which are
    pq.write_table(pa.table({"text": ["a", "b"], "labels": [["x", "y"], []]}), tmp_path / "multi.parquet")
    assert [e.labels for e in read_examples(tmp_path / "multi.parquet")] == [("x", "y"), ()]
    with pytest.raises(DataError, match="do not apply"):
        read_examples(tmp_path / "x.txt", text_column="body")


def test_the_cli_trains_and_evaluates_with_other_column_names(tmp_path: Path, capsys) -> None:
    from labelwise.cli import main

    pq.write_table(pa.table({"body": X, "label": Y}), tmp_path / "train.parquet")
    run = tmp_path / "run"
    args = ["train", "-o", str(run), "--set", f"data.train={tmp_path / 'train.parquet'}", "--set", "model.type=linear",
            "--set", "data.text_column=body", "--set", "data.label_column=label"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(tmp_path / "train.parquet")]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9
