"""Files: temporary files created the way the user's shell would (for atomic writes and
downloads, with the permissions of the user's umask, not ``mkstemp``'s private 0600), and
file digests."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def temp_beside(path: Path, suffix: str) -> Path:
    """A new empty file next to ``path`` (same file system, so a rename is atomic), hidden by
    its leading dot, with the mode a plain ``open(path, "w")`` would give."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, default_mode())
    finally:
        os.close(fd)
    return Path(name)


def default_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file under the current umask."""
    return 0o666 & ~current_umask()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
