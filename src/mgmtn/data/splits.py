"""The selection split: images carved from the train partition to choose checkpoints and thresholds.

Choosing ``best.pt`` or per-attribute thresholds on the split one reports
flatters the number reported. Every run therefore holds out a selection split
from its training partition, and reports on val (the CelebA subset) or test
(full CelebA) untouched. Where the folder knows who is in each image
(``identity_CelebA.txt``) whole identities are held out, so that a face seen
in training never helps select. The draw depends on the index and ``size``
alone (fixed seed), so every run on one folder selects on the same images.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mgmtn.data.celeba import CelebAIndex
from mgmtn.errors import DataError

SELECTION_SEED = 0


MAX_SHARE = 5  # the selection split takes at most a fifth of the training partition


def carve_selection(train: CelebAIndex, size: int) -> tuple[CelebAIndex, CelebAIndex]:
    """(the rest of ``train``, about ``size`` of its images for selection), disjoint by identity where known.

    ``size`` is capped at a fifth of ``train``, so that a small folder (the
    LFWA subset, synthetic faces) still keeps most of its images for training.
    """
    size = min(size, len(train) // MAX_SHARE)
    if size < 1:
        raise DataError(f"{train.root}: the train partition ({len(train)} images) is too small to hold out a "
                        f"selection split (a fifth of it, at least one image)")
    rng = np.random.default_rng(SELECTION_SEED)
    if train.identities is None:
        held = np.zeros(len(train), bool)
        held[rng.permutation(len(train))[:size]] = True
    else:
        people, counts = np.unique(train.identities, return_counts=True)
        order = rng.permutation(len(people))
        taken = order[:np.searchsorted(np.cumsum(counts[order]), size) + 1]
        held = np.isin(train.identities, people[taken])
    return train.select(np.flatnonzero(~held)), train.select(np.flatnonzero(held))


def ids_digest(ids) -> str:
    """sha256 of a split's image ids in order: what a run records of the selection split that chose for it."""
    return hashlib.sha256("\n".join(str(i) for i in ids).encode()).hexdigest()
