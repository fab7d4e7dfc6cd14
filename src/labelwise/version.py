"""The package version, read from the installed package's metadata (pyproject.toml is the
one place it is written); ``labelwise.__version__`` re-exports it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelwise")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
