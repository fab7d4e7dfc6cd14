"""Download a named dataset from a mirror, checking each file's sha256 (standard library only).

A mirror is any HTTP(S) server (or local folder) laid out like a data directory:
``<base_url>/<dataset>/<file>``. No public mirror of labelwise's converted files exists, so
the catalog's ``mirror`` is empty and a base URL must come from ``base_url`` or
``$LABELWISE_DATA_MIRROR``; otherwise the error explains how to build the files from the
public source.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from labelwise.data.catalog import DatasetInfo, get_dataset, resolve_data_dir, sha256_file
from labelwise.data.errors import DataError

MIRROR_ENV = "LABELWISE_DATA_MIRROR"
_BLOCK = 1 << 20


def fetch(
    name: str,
    data_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
    *,
    catalog: Mapping[str, DatasetInfo] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download every file of dataset ``name`` into ``<data_dir>/<name>/``.

    Files already present with the right checksum are skipped; others are downloaded to a
    temporary file, checked, then renamed into place, so no partial file is ever left.

    Args:
        name: A catalog dataset name.
        data_dir: Target data directory (default: :func:`resolve_data_dir`, created if needed).
        base_url: Mirror root; default ``$LABELWISE_DATA_MIRROR``, then the catalog's mirror.
        progress: Print one line per file to standard error.
        catalog: Catalog to use instead of the packaged one (tests, private datasets).
        timeout: Seconds to wait on the network per request.

    Returns:
        The dataset's folder, ``<data_dir>/<name>``.
    """
    info = get_dataset(name, catalog)
    base = base_url or os.environ.get(MIRROR_ENV) or info.mirror
    if not base:
        raise DataError(
            f"no download mirror is known for dataset {name!r} (labelwise's converted files are not published)",
            f"Get the data from its public source ({' ; '.join(info.sources)}), convert it as follows: "
            f"{info.conversion} Write {', '.join(info.sha256)} into <data-dir>/{name}/, then check them with "
            f"`labelwise data validate {name}`. Or pass --base-url (or set ${MIRROR_ENV}) to a "
            f"server that holds <base>/{name}/<file>",
        )
    if "://" not in base and Path(base).is_dir():
        base = Path(base).resolve().as_uri()  # a local copy laid out like a data directory
    root = resolve_data_dir(data_dir, create=True) / name
    root.mkdir(parents=True, exist_ok=True)
    for fname, digest in info.sha256.items():
        dest = root / fname
        if dest.is_file() and sha256_file(dest) == digest:
            _say(progress, f"{name}/{fname}: present, checksum ok")
            continue
        url = f"{base.rstrip('/')}/{quote(name)}/{quote(fname)}"
        size = _download(url, dest, digest, timeout)
        _say(progress, f"{name}/{fname}: downloaded {size / 1e6:.1f} MB, checksum ok")
    return root


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


def _download(url: str, dest: Path, digest: str, timeout: float) -> int:
    """Stream ``url`` into a temporary file beside ``dest``; rename it once the sha256 matches."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    sha, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while block := resp.read(_BLOCK):
                out.write(block)
                sha.update(block)
                size += len(block)
        if sha.hexdigest() != digest:
            raise DataError(
                f"checksum mismatch for {url}: expected sha256 {digest}, got {sha.hexdigest()}",
                "The server holds a different file: check --base-url / the mirror, then retry",
                path=dest,
            )
        os.replace(tmp, dest)
        return size
    except urllib.error.HTTPError as err:
        raise DataError(
            f"download of {url} failed: HTTP {err.code} {err.reason}",
            f"Check --base-url / ${MIRROR_ENV}: the server must hold <base>/<dataset>/<file>",
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(
            f"download of {url} failed ({reason})",
            "Check the network connection and the mirror URL, then retry",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
