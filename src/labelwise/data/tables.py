"""Tables where users keep their data: pandas DataFrames, Arrow tables and Hugging Face
``datasets`` objects, read by their columns without importing any of those libraries.

:func:`table_columns` recognises a table and returns its column names and a reader of one
column as a Python list; :func:`examples_of` turns a table's text and label columns into
``Example``s (a ``datasets`` ``ClassLabel`` column's integers become its class names).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from labelwise.data.formats import DEFAULT_LABELS, DEFAULT_TEXT, rows_as_examples
from labelwise.types import Example

Column = Callable[[str], list[Any]]


def table_columns(obj: Any) -> tuple[list[str], Column, str] | None:
    """``(column names, column reader, kind)`` when ``obj`` is a pandas DataFrame, an Arrow
    table or a Hugging Face ``datasets.Dataset``; None for anything else."""
    if hasattr(obj, "columns") and hasattr(obj, "iloc"):  # pandas.DataFrame
        return [str(c) for c in obj.columns], lambda c: obj[c].tolist(), "DataFrame"
    if hasattr(obj, "column_names") and hasattr(obj, "features"):  # datasets.Dataset
        def column(name: str) -> list[Any]:
            values = list(obj[name])
            names = getattr(obj.features.get(name), "names", None)  # a ClassLabel's class names
            if names is not None:
                return [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in values]
            return values
        return list(obj.column_names), column, "Dataset"
    if hasattr(obj, "column_names") and hasattr(obj, "column") and hasattr(obj, "num_rows"):  # pyarrow.Table
        return list(obj.column_names), lambda c: obj.column(c).to_pylist(), "Table"
    return None


def texts_of(obj: Any, text_column: str = DEFAULT_TEXT) -> Sequence[str] | Any:
    """The texts of a table's ``text_column``, or ``obj`` itself (a list of texts; a pandas
    Series or NumPy array as a list)."""
    table = table_columns(obj)
    if table is not None:
        names, column, kind = table
        if text_column not in names:
            raise ValueError(f"the {kind} has no column '{text_column}' (columns: {', '.join(names)}); "
                             "set data.text_column (TextClassifier(data__text_column=...)) to the text's")
        return column(text_column)
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # pandas.Series, numpy.ndarray
        return obj.tolist()
    return obj


def examples_of(obj: Any, text_column: str = DEFAULT_TEXT, label_column: str = DEFAULT_LABELS,
                require_labels: bool = True) -> Iterator[Example] | None:
    """A table's rows as Examples (None: ``obj`` is not a table)."""
    table = table_columns(obj)
    if table is None:
        return None
    names, column, kind = table
    return rows_as_examples(names, column, kind, text_column, label_column, require_labels)
