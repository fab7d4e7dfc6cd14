"""Creating files the way the user's shell would: temporary files (for atomic writes and
downloads) take the permissions of the user's umask, not ``mkstemp``'s private 0600."""

from __future__ import annotations

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
        os.fchmod(fd, 0o666 & ~current_umask())
    finally:
        os.close(fd)
    return Path(name)
