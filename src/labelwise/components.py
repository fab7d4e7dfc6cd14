"""Import every sub-package that registers components (explicit, once, on demand)."""

from __future__ import annotations


def load_all() -> None:
    """Populate the registries. Cheap after the first call (modules are cached)."""
    import labelwise.data.formats  # noqa: F401
    import labelwise.losses  # noqa: F401
    import labelwise.metrics  # noqa: F401
    import labelwise.models  # noqa: F401
