"""Data layer: file readers, named datasets, the label space and label hierarchies.

Importing this package reads no files; the catalog is loaded on first use. The download
function is exported as ``fetch_dataset``: the name ``labelwise.data.fetch`` stays the
module (``labelwise.data.fetch.fetch``), as a function of that name would hide it.
"""

from labelwise.data.catalog import (
    CATALOG,
    DatasetInfo,
    DatasetSplits,
    default_cache_dir,
    describe,
    get_dataset,
    load_catalog,
    load_splits,
    resolve_data_dir,
    sha256_file,
    validate,
)
from labelwise.data.errors import DataError
from labelwise.data.fetch import fetch as fetch_dataset
from labelwise.data.formats import (
    detect_format,
    iter_lines,
    iter_texts,
    read_csv,
    read_examples,
    read_jsonl,
    read_libmultilabel,
    read_tsv,
)
from labelwise.data.hierarchy import ROOT, Hierarchy
from labelwise.data.labels import IGNORE_INDEX, UNSEEN_POLICIES, LabelSpace, infer_task

__all__ = [
    "CATALOG",
    "IGNORE_INDEX",
    "ROOT",
    "UNSEEN_POLICIES",
    "DataError",
    "DatasetInfo",
    "DatasetSplits",
    "Hierarchy",
    "LabelSpace",
    "default_cache_dir",
    "describe",
    "detect_format",
    "fetch_dataset",
    "get_dataset",
    "infer_task",
    "iter_lines",
    "iter_texts",
    "load_catalog",
    "load_splits",
    "read_csv",
    "read_examples",
    "read_jsonl",
    "read_libmultilabel",
    "read_tsv",
    "resolve_data_dir",
    "sha256_file",
    "validate",
]
