"""Named datasets: the catalog (``catalog.json``), the data directory, dataset statistics and checks.

A data directory holds one folder per dataset (``goemotions/train.jsonl.gz``, ...). It is
found by :func:`resolve_data_dir`; nothing is read until a function is called.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from labelwise.data.errors import DataError
from labelwise.data.formats import read_jsonl
from labelwise.data.hierarchy import Hierarchy
from labelwise.fileio import sha256_file
from labelwise.types import Task

DATA_ENV = "LABELWISE_DATA"


@dataclass(frozen=True)
class DatasetInfo:
    """One catalog entry. ``sha256`` maps every file name of the dataset to its digest."""

    name: str
    title: str
    task: Task
    splits: dict[str, str]
    counts: dict[str, int]
    sha256: dict[str, str]
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of each file, where known
    hierarchies: dict[str, str] = field(default_factory=dict)
    hierarchical: bool = False
    hierarchy_is_dag: bool = False
    num_labels: int = 0
    license: str = ""
    sources: tuple[str, ...] = ()
    conversion: str = ""
    mirror: str | None = None

    @property
    def description(self) -> str:
        """One line for listings: title and task."""
        return f"{self.title} [{self.task.value}]"

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> DatasetInfo:
        """Build from one entry of ``catalog.json``."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(
            name=name,
            **{**fields, "task": Task(data["task"]), "sources": tuple(data.get("sources", ()))},
        )


class _LazyCatalog(Mapping[str, DatasetInfo]):
    """A read-only view of the packaged catalog that reads ``catalog.json`` on first use."""

    def __getitem__(self, name: str) -> DatasetInfo:
        return load_catalog()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(load_catalog())

    def __len__(self) -> int:
        return len(load_catalog())


@functools.cache
def load_catalog() -> dict[str, DatasetInfo]:
    """The packaged catalog, read on first use."""
    text = resources.files("labelwise.data").joinpath("catalog.json").read_text(encoding="utf-8")
    return {k: DatasetInfo.from_json(k, v) for k, v in json.loads(text)["datasets"].items()}


CATALOG: Mapping[str, DatasetInfo] = _LazyCatalog()


def get_dataset(name: str, catalog: Mapping[str, DatasetInfo] | None = None) -> DatasetInfo:
    """The catalog entry of ``name``; unknown names suggest close matches."""
    catalog = load_catalog() if catalog is None else catalog
    if name not in catalog:
        close = difflib.get_close_matches(name, list(catalog), n=3, cutoff=0.5)
        hint = f"Did you mean {', '.join(map(repr, close))}? " if close else ""
        raise DataError(
            f"unknown dataset {name!r}",
            f"{hint}Known datasets: {', '.join(sorted(catalog))}; or make a folder {name}/ in the "
            "data directory with train.jsonl and test.jsonl (any format labelwise reads)",
        )
    return catalog[name]


def _default_candidates() -> list[Path]:
    repo_root = Path(__file__).resolve().parents[3]
    return [Path.cwd() / "../shared/data", repo_root / "../shared/data", default_cache_dir()]


def default_cache_dir() -> Path:
    """``~/.cache/labelwise/data``: where ``fetch`` puts data when no directory is given."""
    return Path.home() / ".cache" / "labelwise" / "data"


def resolve_data_dir(option: str | Path | None = None, *, create: bool = False) -> Path:
    """The data directory: ``option``, else ``$LABELWISE_DATA``, else the first existing of
    ``../shared/data`` (from the working directory, then from the repository), else
    ``~/.cache/labelwise/data``. ``create=True`` makes the chosen (or cache) folder."""
    for value, origin in ((option, "--data-dir"), (os.environ.get(DATA_ENV), f"${DATA_ENV}")):
        if value:
            path = Path(value).expanduser()
            if path.exists() and not path.is_dir():
                raise DataError(
                    f"data directory {str(path)!r} (from {origin}) is a file, not a folder",
                    "Point it at the folder that holds one sub-folder per dataset, e.g. goemotions/",
                )
            if create:
                path.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                raise DataError(
                    f"data directory {str(path)!r} (from {origin}) does not exist",
                    "Point it at the folder that holds one sub-folder per dataset, e.g. goemotions/",
                )
            return path
    candidates = _default_candidates()
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    if create:
        candidates[-1].mkdir(parents=True, exist_ok=True)
        return candidates[-1]
    tried = ", ".join(str(p) for p in candidates)
    raise DataError(
        f"no data directory found (tried {tried})",
        f"Pass --data-dir, set ${DATA_ENV}, or run `labelwise data fetch NAME`",
    )


@dataclass(frozen=True)
class DatasetSplits:
    """Paths of one dataset's files; a split the dataset lacks is None."""

    name: str
    root: Path
    train: Path | None
    valid: Path | None
    test: Path | None
    unsup: Path | None = None
    hierarchy: Path | None = None
    hierarchies: dict[str, Path] = field(default_factory=dict)
    hierarchy_is_dag: bool = False

    def require(self, split: str) -> Path:
        """The path of ``split``, or an error saying the dataset has no such split."""
        path = getattr(self, split, None) if split in ("train", "valid", "test", "unsup") else None
        if path is None:
            raise DataError(
                f"dataset {self.name!r} has no {split!r} split",
                f"See {self.root / 'README.md'}; pass the file explicitly (data.{split}) or pick another dataset",
            )
        return path


def load_splits(
    name: str, data_dir: str | Path | None = None, hierarchy: str | None = None
) -> DatasetSplits:
    """Locate the files of a named dataset. ``hierarchy`` picks a named variant (e.g.
    ``"ekman"`` for goemotions); the default is the dataset's first hierarchy. A name the
    catalog does not know is a folder of the data directory (:func:`folder_splits`)."""
    if is_folder_dataset(name, data_dir):
        return folder_splits(resolve_data_dir(data_dir) / name, hierarchy)
    info = get_dataset(name)
    root = resolve_data_dir(data_dir) / name
    missing = [f for f in info.sha256 if not (root / f).is_file()]
    if missing:
        raise DataError(
            f"dataset {name!r} is incomplete: missing {', '.join(missing)}",
            f"Run `labelwise data fetch {name}` or check --data-dir / ${DATA_ENV}",
            path=root,
        )
    hier = {k: root / v for k, v in info.hierarchies.items()}
    if hierarchy is not None and hierarchy not in hier:
        raise DataError(
            f"dataset {name!r} has no hierarchy {hierarchy!r}",
            f"Choose one of {sorted(hier) or 'none'}",
        )
    chosen = hier.get(hierarchy) if hierarchy else next(iter(hier.values()), None)
    split = {s: root / f for s, f in info.splits.items()}
    return DatasetSplits(
        name,
        root,
        split.get("train"),
        split.get("valid"),
        split.get("test"),
        split.get("unsup"),
        chosen,
        hier,
        info.hierarchy_is_dag,
    )


SPLITS = ("train", "valid", "test", "unsup")
HIERARCHY_FILE = "labels_hierarchy.tsv"


def folder_splits(root: Path, hierarchy: str | None = None) -> DatasetSplits:
    """A dataset that is just a folder: ``train`` and ``test`` files (and optionally
    ``valid``, ``unsup`` and ``labels_hierarchy.tsv``) in any format labelwise reads, e.g.
    ``train.jsonl.gz``, ``test.csv``. The catalog's datasets add sources and checksums."""
    from labelwise.data.formats import SUFFIX_FORMATS

    found: dict[str, Path] = {}
    for split in SPLITS:
        hits = sorted(p for ext in SUFFIX_FORMATS for p in (root / f"{split}{ext}", root / f"{split}{ext}.gz")
                      if p.is_file())
        if len(hits) > 1:
            raise DataError(f"dataset folder {str(root)!r} has {len(hits)} {split} files "
                            f"({', '.join(p.name for p in hits)})", "Keep one file per split", path=root)
        if hits:
            found[split] = hits[0]
    missing = [s for s in ("train", "test") if s not in found]
    if missing:
        names = ", ".join(f"{s}.jsonl" for s in missing)
        raise DataError(f"dataset folder {str(root)!r} has no {' or '.join(missing)} file",
                        f"Add {names} (or .csv / .tsv / .txt, optionally .gz); valid and "
                        f"{HIERARCHY_FILE} are optional", path=root)
    if hierarchy is not None:
        raise DataError(f"dataset folder {str(root)!r} has no named hierarchies",
                        f"Its hierarchy is {HIERARCHY_FILE}; drop the hierarchy name", path=root)
    tsv = root / HIERARCHY_FILE
    hier = {"default": tsv} if tsv.is_file() else {}
    return DatasetSplits(root.name, root, found.get("train"), found.get("valid"), found.get("test"),
                         found.get("unsup"), hier.get("default"), hier)


def is_folder_dataset(name: str, data_dir: str | Path | None = None) -> bool:
    """Whether ``name`` is not in the catalog but a folder of the data directory (False
    when there is no data directory: the name is then simply unknown)."""
    if name in load_catalog():
        return False
    try:
        return (resolve_data_dir(data_dir) / name).is_dir()
    except DataError:
        return False


def describe(name: str, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Catalog facts (for a folder dataset: its files) plus per-split counts and label
    statistics (for ``labelwise data show``)."""
    from labelwise.data.formats import read_examples

    paths = load_splits(name, data_dir)
    if is_folder_dataset(name, data_dir):
        info = None
        files = {s: p for s in SPLITS if (p := getattr(paths, s)) is not None}
    else:
        info = get_dataset(name)
        files = {s: paths.root / f for s, f in info.splits.items()}
    splits: dict[str, Any] = {}
    label_counts: dict[str, Counter[str]] = {}
    for split, path in files.items():
        counts: Counter[str] = Counter()
        docs = total = most = 0
        for ex in read_examples(path, require_labels=False):
            docs, total, most = docs + 1, total + len(ex.labels), max(most, len(ex.labels))
            counts.update(ex.labels)
        label_counts[split] = counts
        splits[split] = {
            "path": str(path),
            "docs": docs,
            "labels_used": len(counts),
            "mean_labels": total / max(docs, 1),
            "max_labels": most,
        }
    ref = "train" if "train" in label_counts else next(iter(label_counts))
    ranked = label_counts[ref].most_common()
    return {
        "name": name,
        "title": info.title if info else f"a folder of the data directory ({paths.root})",
        "task": info.task.value if info else "auto (from the labels at training)",
        "license": info.license if info else "",
        "sources": list(info.sources) if info else [],
        "root": str(paths.root),
        "splits": splits,
        "hierarchies": {k: str(v) for k, v in paths.hierarchies.items()},
        "label_stats": {
            "split": ref,
            "labels": len(ranked),
            "head": ranked[:10],
            "tail": ranked[-10:],
        },
    }


def validate(
    name: str,
    data_dir: str | Path | None = None,
    *,
    catalog: Mapping[str, DatasetInfo] | None = None,
) -> dict[str, Any]:
    """Check checksums, then read every split and hierarchy file.

    Returns:
        ``{"name", "root", "ok", "files": {file: "ok" | "missing" | "sha256 mismatch"},
        "docs": {split: count}, "problems": [message, ...]}``. A reader stops at the first
        bad line of a file, so there is at most one reading problem per file.
    """
    info = get_dataset(name, catalog)
    root = resolve_data_dir(data_dir) / name
    problems: list[str] = []
    files: dict[str, str] = {}
    docs: dict[str, int] = {}
    for fname, digest in info.sha256.items():
        path = root / fname
        files[fname] = "ok"
        if not path.is_file():
            files[fname] = "missing"
            problems.append(f"{path}: missing. Run `labelwise data fetch {name}`")
        elif sha256_file(path) != digest:
            files[fname] = "sha256 mismatch"
            problems.append(f"{path}: sha256 differs from the catalog. Fetch the file again")
    for split, fname in info.splits.items():
        if not (root / fname).is_file():
            continue  # reported above
        try:
            docs[split] = sum(1 for _ in read_jsonl(root / fname))
        except DataError as err:
            problems.append(str(err))
            continue
        if docs[split] != info.counts.get(split, docs[split]):
            problems.append(
                f"{root / fname}: {docs[split]} documents, the catalog says {info.counts[split]}"
            )
    for fname in info.hierarchies.values():
        try:
            Hierarchy.from_tsv(root / fname, allow_dag=info.hierarchy_is_dag)
        except DataError as err:
            problems.append(str(err))
    ok = not problems
    return {
        "name": name,
        "root": str(root),
        "ok": ok,
        "files": files,
        "docs": docs,
        "problems": problems,
    }
