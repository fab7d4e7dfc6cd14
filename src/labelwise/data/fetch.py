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
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from labelwise.data.catalog import DatasetInfo, get_dataset, resolve_data_dir
from labelwise.data.errors import DataError
from labelwise.fileio import sha256_file, temp_beside

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
        expected = info.sizes.get(fname)
        cap = MAX_UNKNOWN_BYTES if expected is None else expected + expected // 100 + (64 << 10)
        size = _download(url, dest, digest, timeout, cap)
        _say(progress, f"{name}/{fname}: downloaded {size / 1e6:.1f} MB, checksum ok")
    return root


# a file of unknown size (a catalog without sizes) may not grow past this while downloading
MAX_UNKNOWN_BYTES = 16 << 30


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


class _Stopped(BaseException):
    """Raised by a signal handler so that ``finally`` clauses run (removing the .part file)."""


@contextmanager
def _signals_unwind() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP unwind the stack like Ctrl-C does instead of ending the
    process on the spot (which left the .part file behind), then end it with the usual code."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(signum)

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except _Stopped as stopped:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        raise SystemExit(128 + int(stopped.args[0])) from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _too_big(url: str, cap: int) -> DataError:
    return DataError(
        f"download of {url} stopped: the server sent more than {cap:,} bytes, more than the "
        "catalog's size for this file",
        "The mirror serves something else (or never ends): check --base-url / the mirror",
    )


def _download(url: str, dest: Path, digest: str, timeout: float, cap: int) -> int:
    """Stream ``url`` into a temporary file beside ``dest``, at most ``cap`` bytes; rename it
    once the sha256 matches. The temporary file is removed on any exit, signals included."""
    sha, size = hashlib.sha256(), 0
    with _signals_unwind():
        tmp = temp_beside(dest, ".part")
        try:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                declared = resp.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > cap:
                    raise _too_big(url, cap)
                while block := resp.read(_BLOCK):
                    size += len(block)
                    if size > cap:
                        raise _too_big(url, cap)
                    out.write(block)
                    sha.update(block)
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
