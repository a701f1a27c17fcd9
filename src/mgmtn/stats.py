"""How sure a gain is: a paired bootstrap over images, combined with the seeds, and a verdict fixed in advance.

A gain of model A over model B is a difference on the same images, so both
models are scored on one resample of the images per replicate (the paired
bootstrap: the image-to-image variation they share cancels). The seeds enter
as a second level: each replicate also draws, for each model independently,
as many of its seeds as it has, with replacement, and averages the drawn
seeds' scores. The 95% interval is the 2.5 and 97.5 percentiles of the
replicated gains. A model with one seed contributes no seed noise: its
interval counts the images only, which ``Gain.seeds`` records.

The verdict rule (``verdict``) is part of the code, written before any
interval was read: **agrees** where the interval excludes 0 in the paper's
direction, **disagrees** where it excludes 0 the other way, **inconclusive**
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
METRICS = ("accuracy", "mA")


@dataclass(frozen=True)
class Gain:
    """One measured gain (in points, A minus B) with its interval."""

    metric: str
    gain: float
    low: float
    high: float
    seeds: tuple[int, int]  # seeds of A and of B


def verdict(low: float, high: float, direction: float) -> str:
    """The a-priori rule: 'agrees' where [low, high] excludes 0 on the side of ``direction`` (the sign of the
    paper's gain; a claim of 'not worse' has direction +1), 'disagrees' where it excludes 0 on the other
    side, 'inconclusive' where it contains 0."""
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    side = 1.0 if direction >= 0 else -1.0
    if low > 0 or high < 0:
        return "agrees" if (low > 0) == (side > 0) else "disagrees"
    return "inconclusive"


def image_weights(images: int, replicates: int, seed: int = 0) -> np.ndarray:
    """(replicates, images) bootstrap counts: how often each image is drawn in each resample."""
    drawn = np.random.default_rng(seed).integers(0, images, size=(replicates, images))
    rows = np.arange(replicates)[:, None] * images
    return np.bincount((drawn + rows).ravel(), minlength=replicates * images).reshape(replicates, images) \
        .astype(np.float32)


class Resamples:
    """One set of image resamples of a labelled split, shared by every model scored on it (the pairing)."""

    def __init__(self, labels: np.ndarray, replicates: int = 1000, seed: int = 0):
        self.truth = np.asarray(labels, bool)
        # Row 0 weighs every image once: the observed scores; the rest are the bootstrap resamples.
        self.weights = np.vstack([np.ones((1, len(self.truth)), np.float32),
                                  image_weights(len(self.truth), replicates, seed)])
        self.positives = self.weights @ self.truth.astype(np.float32)
        self.negatives = self.weights.sum(1, keepdims=True) - self.positives

    def scores(self, predicted: np.ndarray) -> dict[str, np.ndarray]:
        """Accuracy and mA (in [0, 1]) of one model's yes/no answers (images, attributes): the observed score
        first, then one per resample.

        mA is each attribute's (TP/P + TN/N)/2 counted with the resample's
        weights; where a resample holds no positive (or no negative) of an
        attribute the defined rate alone counts, as in ``mgmtn.metrics.per_attribute``.
        """
        predicted = np.asarray(predicted, bool)
        if predicted.shape != self.truth.shape:
            raise ValueError(f"answers {predicted.shape} and labels {self.truth.shape} must be on the same images")
        both = np.concatenate([predicted & self.truth, ~predicted & ~self.truth], axis=1).astype(np.float32)
        tp, tn = np.split(self.weights @ both, 2, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr, tnr = tp / self.positives, tn / self.negatives
        balanced = np.where(np.isnan(tpr), tnr, np.where(np.isnan(tnr), tpr, (tpr + tnr) / 2))
        accuracy = ((tp + tn) / self.weights.sum(1, keepdims=True)).mean(1)
        return {"accuracy": accuracy, "mA": np.nanmean(balanced, axis=1)}


def gain(model: list[dict[str, np.ndarray]], baseline: list[dict[str, np.ndarray]], seed: int = 0
         ) -> dict[str, Gain]:
    """The gain (points) of ``model`` over ``baseline`` and its 95% interval, for accuracy and mA.

    Each side: one ``Resamples.scores`` per seed, all from one ``Resamples``
    (the same images resampled alike). Each replicate draws each side's seeds
    with replacement, independently, and averages the drawn seeds.
    """
    if not model or not baseline:
        raise ValueError("each side of a gain needs at least one seed")
    rng = np.random.default_rng(seed + 1)
    tail = 100 * (1 - LEVEL) / 2
    gains = {}
    for metric in METRICS:
        sides = []
        for runs in (model, baseline):
            stacked = np.stack([run[metric] for run in runs], axis=1)  # (1 + replicates, seeds)
            replicates = len(stacked) - 1
            drawn = rng.integers(0, len(runs), size=(replicates, len(runs)))
            sides.append((stacked[0].mean(), stacked[1:][np.arange(replicates)[:, None], drawn].mean(1)))
        (point_a, reps_a), (point_b, reps_b) = sides
        low, high = np.percentile(100 * (reps_a - reps_b), [tail, 100 - tail])
        gains[metric] = Gain(metric, float(100 * (point_a - point_b)), float(low), float(high),
                             (len(model), len(baseline)))
    return gains


def paired_gain(labels: np.ndarray, model: list[np.ndarray], baseline: list[np.ndarray], replicates: int = 1000,
                seed: int = 0) -> dict[str, Gain]:
    """``gain`` of two models given as yes/no answers (one (images, attributes) array per seed) on ``labels``."""
    resamples = Resamples(labels, replicates, seed)
    return gain([resamples.scores(a) for a in model], [resamples.scores(b) for b in baseline], seed)
