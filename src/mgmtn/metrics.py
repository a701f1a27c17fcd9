"""Accuracy and class-balanced mean accuracy (mA) over the 40 attributes.

The papers report two numbers: accuracy, the mean of the 40 per-attribute
accuracies, and mA, the mean of the 40 per-attribute balanced accuracies
(TP/P + TN/N)/2, which is not fooled by rare attributes such as Bald.
Thresholds default to 0.5 and may be tuned per attribute on a selection
split only (``mgmtn.data.splits``), then applied unchanged to the split reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mgmtn.attributes import ATTRIBUTES, group_of


def _check(targets: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    targets, scores = np.asarray(targets), np.asarray(scores, dtype=np.float64)
    if targets.shape != scores.shape or targets.ndim != 2:
        raise ValueError(f"targets {targets.shape} and scores {scores.shape} must be equal (N, A) arrays")
    return targets.astype(bool), scores


def per_attribute(targets: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | float = 0.5,
                  names=ATTRIBUTES) -> pd.DataFrame:
    """One row per attribute: positive rate, accuracy, TPR, TNR and balanced accuracy.

    An attribute with no positives (or no negatives) in ``targets`` gets NaN
    for the undefined rate and its balanced accuracy falls back to the defined one.
    """
    truth, probs = _check(targets, probs)
    predicted = probs >= np.broadcast_to(np.asarray(thresholds, dtype=np.float64), probs.shape[1:])
    positives, negatives = truth.sum(0), (~truth).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (predicted & truth).sum(0) / positives
        tnr = (~predicted & ~truth).sum(0) / negatives
    table = pd.DataFrame({
        "attribute": list(names),
        "positive_rate": positives / len(truth),
        "threshold": np.broadcast_to(thresholds, probs.shape[1:]).astype(float),
        "accuracy": (predicted == truth).mean(0),
        "tpr": tpr,
        "tnr": tnr,
        "balanced_accuracy": np.nanmean(np.stack([tpr, tnr]), axis=0),
    })
    if tuple(names) == ATTRIBUTES:
        table.insert(1, "group", table["attribute"].map(group_of()))
    return table


def summary(targets: np.ndarray, probs: np.ndarray, thresholds: np.ndarray | float = 0.5) -> dict:
    """``accuracy`` and ``mA`` (both in [0, 1]) of the per-attribute table."""
    table = per_attribute(targets, probs, thresholds, names=[str(i) for i in range(np.shape(probs)[1])])
    return {"accuracy": float(table["accuracy"].mean()), "mA": float(table["balanced_accuracy"].mean())}


def tune_thresholds(targets: np.ndarray, probs: np.ndarray, metric: str = "accuracy",
                    grid: np.ndarray | None = None) -> np.ndarray:
    """Per-attribute thresholds that maximise ``metric``: 'accuracy', 'balanced_accuracy' or their 'mean'.

    Meant for a validation split: tuning on the split one reports is optimistic.
    """
    truth, probs = _check(targets, probs)
    grid = np.linspace(0.02, 0.98, 49) if grid is None else np.asarray(grid)
    predicted = probs[None] >= grid[:, None, None]  # (T, N, A)
    tp = (predicted & truth).sum(1)
    tn = (~predicted & ~truth).sum(1)
    accuracy = (tp + tn) / len(truth)
    with np.errstate(invalid="ignore", divide="ignore"):
        balanced = np.nan_to_num(tp / truth.sum(0)) / 2 + np.nan_to_num(tn / (~truth).sum(0)) / 2
    scores = {"accuracy": accuracy, "balanced_accuracy": balanced, "mean": (accuracy + balanced) / 2}
    if metric not in scores:
        raise ValueError(f"metric must be one of {', '.join(scores)}, got {metric!r}")
    score = scores[metric]
    return grid[score.argmax(0)]


def majority_scores(train_labels: np.ndarray, labels: np.ndarray) -> dict:
    """``accuracy`` and ``mA`` of always answering each attribute's majority class in ``train_labels``.

    The floor every real-data number is read against: mA is 50% by
    construction, accuracy is the mean share of the majority class.
    """
    majority = np.asarray(train_labels).mean(0) >= 0.5
    return summary(labels, np.broadcast_to(majority.astype(np.float64), np.shape(labels)))
