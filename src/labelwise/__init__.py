"""labelwise: text classification for every label structure."""

__version__ = "0.1.0"
