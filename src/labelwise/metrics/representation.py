"""How well document vectors cluster by label: silhouette and Davies-Bouldin (scikit-learn).

Both need one cluster per point: multi-class labels as they are; for multi-hot labels the
documents with exactly one label (the others have no single cluster to belong to).
Silhouette is O(N^2), so at most ``max_points`` documents are used, drawn with ``seed``.
"""

from __future__ import annotations

import numpy as np


def embedding_quality(
    embeddings: np.ndarray, labels: np.ndarray, max_points: int = 5000, seed: int = 0
) -> dict[str, float]:
    """``silhouette`` (higher is better, cosine distance) and ``davies_bouldin`` (lower is
    better) of (N, d) ``embeddings`` grouped by ``labels``: (N,) class ids or (N, L) multi-hot.

    Returns NaN for both when fewer than two clusters remain.
    """
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    x = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels)
    if y.ndim == 2:
        single = y.sum(axis=1) == 1
        x, y = x[single], y[single].argmax(axis=1)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} embeddings for {len(y)} labels")
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
        x, y = x[keep], y[keep]
    if len(np.unique(y)) < 2 or len(x) <= len(np.unique(y)):
        return {"silhouette": float("nan"), "davies_bouldin": float("nan")}
    return {
        "silhouette": float(silhouette_score(x, y, metric="cosine")),
        "davies_bouldin": float(davies_bouldin_score(x, y)),
    }
