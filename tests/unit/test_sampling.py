import pytest

from labelwise.data.sampling import per_class_sample
from labelwise.types import Example


def _examples(counts: dict[str, int]) -> list[Example]:
    return [Example(f"{lab} {i}", (lab,)) for lab, n in counts.items() for i in range(n)]


def test_k_of_each_class_and_the_rest_partition_the_set():
    data = _examples({"a": 10, "b": 7, "c": 2})
    sample, rest = per_class_sample(data, 3, seed=5)
    counts = {lab: sum(ex.labels == (lab,) for ex in sample) for lab in "abc"}
    assert counts == {"a": 3, "b": 3, "c": 2}  # a class with fewer than k gives all it has
    assert sorted(e.text for e in sample + rest) == sorted(e.text for e in data)
    assert not {e.text for e in sample} & {e.text for e in rest}
    # input order is kept in both parts
    assert [data.index(e) for e in sample] == sorted(data.index(e) for e in sample)


def test_seeded_and_nested_across_k():
    data = _examples({"a": 50, "b": 40})
    small, _ = per_class_sample(data, 4, seed=1)
    again, _ = per_class_sample(data, 4, seed=1)
    large, _ = per_class_sample(data, 16, seed=1)
    other, _ = per_class_sample(data, 4, seed=2)
    assert small == again
    assert {e.text for e in small} <= {e.text for e in large}
    assert small != other


def test_refuses_multi_label_examples_naming_the_example():
    data = [Example("x", ("a",)), Example("y", ("a", "b"), "train.jsonl:2")]
    with pytest.raises(ValueError, match=r"#1 \(train.jsonl:2\) has 2 labels"):
        per_class_sample(data, 1, seed=0)
    with pytest.raises(ValueError, match="at least 1"):
        per_class_sample(data[:1], 0, seed=0)
