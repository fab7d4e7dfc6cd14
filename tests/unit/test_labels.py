"""Hierarchy validation and queries; LabelSpace fitting, encoding, policies and labels.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labelwise.data import IGNORE_INDEX, ROOT, DataError, Hierarchy, LabelSpace, infer_task
from labelwise.types import Example, Task

STAGED = Path(__file__).resolve().parents[2] / "../shared/data"
TREE = "ROOT\tsci\nROOT\tarts\nsci\tphysics\nsci\tbio\nphysics\tquantum\narts\tmusic\n"


def tsv(tmp_path: Path, text: str, name: str = "h.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ex(*labels: str, line: int = 1) -> Example:
    return Example("some text", labels, f"train.jsonl:{line}")


# -- Hierarchy ---------------------------------------------------------------------------
def test_tree_queries(tmp_path: Path) -> None:
    h = Hierarchy.from_tsv(tsv(tmp_path, TREE))
    assert h.parents("quantum") == ("physics",) and h.parents("sci") == ()
    assert h.ancestors("quantum") == ("sci", "physics") and h.ancestors("arts") == ()
    assert [h.depth(n) for n in ("sci", "physics", "quantum")] == [1, 2, 3]
    assert h.levels == [["arts", "sci"], ["bio", "music", "physics"], ["quantum"]]
    assert h.leaves == ["bio", "music", "quantum"] and h.children(ROOT) == ("sci", "arts")
    assert len(h) == 6 and "bio" in h and ROOT not in h
    with pytest.raises(KeyError, match="'nope' is not a node"):
        h.parents("nope")


def test_implicit_root_and_json_round_trip(tmp_path: Path) -> None:
    h = Hierarchy.from_tsv(tsv(tmp_path, "# comment\nsci\tbio\n\nsci\tbio\n"))
    assert h.children(ROOT) == ("sci",) and h.depth("bio") == 2 and h.edges == [("sci", "bio")]
    back = Hierarchy.from_json(json.loads(json.dumps(h.to_json())))
    assert back.edges == h.edges and back.levels == h.levels


def test_two_parents_error_for_trees(tmp_path: Path) -> None:
    path = tsv(tmp_path, TREE + "arts\tbio\n")
    with pytest.raises(DataError) as info:
        Hierarchy.from_tsv(path)
    msg = str(info.value)
    assert f"{path}:7:" in msg and "'bio' has two parents, 'sci' and 'arts'" in msg
    assert "allow_dag=True" in msg


def test_dag_depth_is_longest_path(tmp_path: Path) -> None:
    h = Hierarchy.from_tsv(tsv(tmp_path, TREE + "ROOT\tquantum\nmusic\tbio\n"), allow_dag=True)
    assert h.parents("quantum") == ("physics",) and h.depth("quantum") == 3
    assert h.parents("bio") == ("sci", "music") and h.depth("bio") == 3
    assert h.ancestors("bio") == ("arts", "sci", "music")
    assert Hierarchy.from_json(h.to_json()).allow_dag


def test_cycle_is_named(tmp_path: Path) -> None:
    path = tsv(tmp_path, "ROOT\ta\na\tb\nc\td\nd\te\ne\tc\n")
    with pytest.raises(
        DataError, match=r"cycle: (c -> d -> e -> c|d -> e -> c -> d|e -> c -> d -> e)"
    ):
        Hierarchy.from_tsv(path, allow_dag=True)
    with pytest.raises(DataError, match=str(path)):
        Hierarchy.from_tsv(path, allow_dag=True)


@pytest.mark.parametrize(
    ("row", "word"),
    [
        ("justone", "expected 'parent<TAB>child'"),
        ("a\tb\tc", "expected 'parent<TAB>child'"),
        ("a\t ", "expected 'parent<TAB>child'"),
        ("a\ta", "its own parent"),
        ("sci\tROOT", "cannot be a child"),
    ],
)
def test_malformed_rows(tmp_path: Path, row: str, word: str) -> None:
    path = tsv(tmp_path, f"ROOT\tsci\n{row}\n")
    with pytest.raises(DataError) as info:
        Hierarchy.from_tsv(path)
    assert f"{path}:2:" in str(info.value) and word in str(info.value)


def test_empty_hierarchy_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no edges"):
        Hierarchy.from_tsv(tsv(tmp_path, "\n# nothing\n"))


@pytest.mark.skipif(not (STAGED / "eurlex57k").is_dir(), reason="staged data not present")
def test_real_eurovoc_is_a_dag() -> None:
    path = STAGED / "eurlex57k" / "labels_hierarchy.tsv"
    with pytest.raises(DataError, match="two parents"):
        Hierarchy.from_tsv(path)
    assert len(Hierarchy.from_tsv(path, allow_dag=True)) == 7201


# -- infer_task --------------------------------------------------------------------------
def test_infer_task() -> None:
    assert infer_task([ex("a"), ex("b")]) is Task.MULTICLASS
    assert infer_task([ex("a"), ex("a", "b")]) is Task.MULTILABEL
    assert infer_task([ex("a"), ex()]) is Task.MULTILABEL
    assert infer_task([ex(str(i), "x") for i in range(1001)]) is Task.EXTREME
    with pytest.raises(DataError, match="empty training set"):
        infer_task([])


# -- LabelSpace --------------------------------------------------------------------------
def test_multilabel_fit_encode_decode() -> None:
    ls = LabelSpace.fit([ex("b", "a"), ex("c"), ex("a"), ex()], Task.MULTILABEL)
    assert ls.classes == ["a", "b", "c"] and dict(ls.index) == {"a": 0, "b": 1, "c": 2}
    assert ls.train_counts.tolist() == [2, 1, 1] and len(ls) == 3 and ls.num_train_docs == 4
    row = ls.encode(["c", "a"])
    assert row.dtype == np.float32 and row.tolist() == [1, 0, 1]
    assert ls.encode_many([ex("b"), ex()]).tolist() == [[0, 1, 0], [0, 0, 0]]
    assert ls.decode(row > 0) == ["a", "c"] and ls.encode_indices(["b"]).tolist() == [1]
    assert ls.levels == [[0, 1, 2]] and ls.parent_index == [-1, -1, -1]
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        ls.decode([True])
    with pytest.raises(TypeError):
        ls.index["z"] = 3  # type: ignore[index]


def test_known_labels_add_zero_count_classes() -> None:
    ls = LabelSpace.fit([ex("b")], "multilabel", known_labels=["a"])
    assert ls.classes == ["a", "b"] and ls.train_counts.tolist() == [0, 1]


def test_multiclass_fit_rejects_multi_label_rows() -> None:
    with pytest.raises(DataError) as info:
        LabelSpace.fit([ex("a"), ex("a", "b", line=7)], Task.MULTICLASS)
    msg = str(info.value)
    assert (
        "train.jsonl:7:" in msg and "exactly one label, got 2" in msg and "task: multilabel" in msg
    )


def test_encode_class() -> None:
    ls = LabelSpace.fit([ex("neg"), ex("pos")], "multiclass", unseen="ignore")
    assert ls.encode_class(["pos"]) == 1 and ls.encode_classes([ex("neg"), ex("pos")]).tolist() == [
        0,
        1,
    ]
    assert ls.encode_class(["meh"]) == IGNORE_INDEX
    with pytest.raises(DataError, match=r"valid\.jsonl:4: .*exactly one label, got 0"):
        ls.encode_class([], source="valid.jsonl:4")


def test_unseen_policies() -> None:
    ls = LabelSpace.fit([ex("a"), ex("b")], Task.MULTILABEL)
    with pytest.raises(DataError) as info:
        ls.encode_many([Example("t", ("a", "zzz"), "valid.jsonl:12")])
    msg = str(info.value)
    assert "valid.jsonl:12:" in msg and "'zzz'" in msg and "data.unseen_labels" in msg
    assert ls.encode(["a", "zzz"], unseen="ignore").tolist() == [1, 0]
    with pytest.warns(UserWarning, match=r"valid\.jsonl:3: label 'zzz'") as record:
        ls.encode(["zzz"], "valid.jsonl:3", unseen="warn")
        ls.encode(["zzz"], "valid.jsonl:4", unseen="warn")  # warned once per label
    assert len(record) == 1
    # a whole split warns once, with the count and the first few labels and lines
    many = [Example("t", ("a", f"new{i}"), f"test.jsonl:{i + 1}") for i in range(8)]
    with pytest.warns(UserWarning) as record:
        ls.encode_many(many + many[:2], unseen="warn")
    assert len(record) == 1
    msg = str(record[0].message)
    assert msg.startswith("8 labels do not occur") and "'new0' (test.jsonl:1)" in msg
    assert "and 3 more" in msg and "data.unseen_labels" in msg
    with pytest.raises(DataError, match="unknown task 'multi'.*'multilabel'"):
        LabelSpace.fit([ex("a")], "multi")
    with pytest.raises(DataError, match="unknown unseen-label policy 'drop'"):
        LabelSpace.fit([ex("a")], Task.MULTILABEL, unseen="drop")


def test_empty_training_set() -> None:
    with pytest.raises(DataError, match="training set is empty"):
        LabelSpace.fit([], Task.MULTILABEL)
    with pytest.raises(DataError, match="no training example has a label"):
        LabelSpace.fit([ex()], Task.MULTILABEL)


def test_hierarchical_space(tmp_path: Path) -> None:
    h = Hierarchy.from_tsv(tsv(tmp_path, TREE + "sci\tchem\n"))
    ls = LabelSpace.fit([ex("quantum"), ex("music", "bio")], Task.HIERARCHICAL, h, unseen="ignore")
    assert ls.decode(ls.encode(["chem"]) > 0) == ["sci"]  # unseen node: known ancestors kept
    assert ls.classes == ["arts", "sci", "bio", "music", "physics", "quantum"]
    assert ls.level_of == [0, 0, 1, 1, 1, 2] and ls.levels == [[0, 1], [2, 3, 4], [5]]
    assert ls.parent_index == [-1, -1, 1, 0, 1, 4]
    assert ls.train_counts.tolist() == [1, 2, 1, 1, 1, 1]
    assert ls.decode(ls.encode(["quantum"]) > 0) == ["sci", "physics", "quantum"]
    assert ls.decode(ls.encode(["music"]) > 0) == ["arts", "music"]
    back = LabelSpace.from_json(json.loads(json.dumps(ls.to_json())))
    assert back.classes == ls.classes and back.parent_index == ls.parent_index
    assert back.task is Task.HIERARCHICAL and back.train_counts.tolist() == ls.train_counts.tolist()


def test_hierarchical_errors(tmp_path: Path) -> None:
    h = Hierarchy.from_tsv(tsv(tmp_path, TREE))
    with pytest.raises(
        DataError, match=r"train\.jsonl:5: label 'chem' is not a node.*ROOT<TAB>chem"
    ):
        LabelSpace.fit([ex("bio"), ex("chem", line=5)], Task.HIERARCHICAL, h)
    with pytest.raises(DataError, match="needs a label hierarchy.*data.hierarchy"):
        LabelSpace.fit([ex("bio")], Task.HIERARCHICAL)


def test_labels_json_file_and_version(tmp_path: Path) -> None:
    ls = LabelSpace.fit([ex("a"), ex("b")], Task.MULTICLASS, unseen="warn")
    path = tmp_path / "labels.json"
    ls.save(path)
    back = LabelSpace.load(path)
    assert (back.classes, back.task, back.unseen) == (["a", "b"], Task.MULTICLASS, "warn")
    assert back.num_train_docs == 2 and back.train_counts.tolist() == [1, 1]
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=rf"{path}: labels.json has format_version 99.*reads 1"):
        LabelSpace.load(path)
    path.write_text("{broken")
    with pytest.raises(DataError, match=rf"{path}:1: labels.json is not valid JSON"):
        LabelSpace.load(path)
    with pytest.raises(DataError, match="labels.json not found"):
        LabelSpace.load(tmp_path / "missing.json")
