"""Plots as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plot_per_label_f1(
    train_counts: np.ndarray,
    f1_by_system: dict[str, np.ndarray],
    path: str | Path,
    title: str = "per-label F1 against training frequency",
) -> Path:
    """Scatter each label's F1 against its training frequency (log scale), one colour per
    system, with a trend line (F1 averaged over frequency bins), into the PNG ``path``."""
    import matplotlib.pyplot as plt

    fig = per_label_f1_figure(train_counts, f1_by_system, title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def per_label_f1_figure(train_counts: np.ndarray, f1_by_system: dict[str, np.ndarray],
                        title: str = "per-label F1 against training frequency") -> Any:
    """The figure of :func:`plot_per_label_f1` (matplotlib, Agg), for the caller to save."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.maximum(np.asarray(train_counts, dtype=float), 1)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    edges = np.unique(np.quantile(counts, np.linspace(0, 1, 6)))
    for name, f1 in f1_by_system.items():
        pts = ax.scatter(counts, f1, s=18, alpha=0.6, label=name)
        centers, means = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (counts >= lo) & (counts <= hi)
            if sel.any():
                centers.append(np.sqrt(lo * hi))
                means.append(float(np.mean(np.asarray(f1)[sel])))
        ax.plot(centers, means, color=pts.get_facecolor()[0], linewidth=1.5)
    ax.set_xscale("log")
    ax.set_xlabel("training documents with the label (log scale)")
    ax.set_ylabel("F1 on the test split")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
