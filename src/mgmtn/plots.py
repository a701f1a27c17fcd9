"""Figures shared by the notebooks, so that no notebook carries plotting code of its own."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from mgmtn.attributes import ATTRIBUTES, GROUP_NAMES, group_of
from mgmtn.data.celeba import CelebAIndex, load_image

GROUP_COLOURS = dict(zip(GROUP_NAMES, sns.color_palette("tab10", len(GROUP_NAMES))))


def positive_rates(index: CelebAIndex, ax=None):
    """Bar chart of the positive rate of each attribute, coloured by group: the imbalance at a glance."""
    rates = pd.DataFrame({"attribute": ATTRIBUTES, "positive rate": index.labels.mean(0)})
    rates["group"] = rates["attribute"].map(group_of())
    rates = rates.sort_values("positive rate")
    ax = ax or plt.subplots(figsize=(12, 4))[1]
    sns.barplot(rates, x="attribute", y="positive rate", hue="group", palette=GROUP_COLOURS,
                dodge=False, ax=ax)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.tick_params(axis="x", labelrotation=90, labelsize=8)
    ax.set_xlabel("")
    return ax


def sample_grid(index: CelebAIndex, n: int = 8, seed: int = 0, columns: int = 4):
    """Faces with their positive attributes listed beneath, to check labels against pixels by eye."""
    rows = np.random.default_rng(seed).choice(len(index), size=min(n, len(index)), replace=False)
    lines = (len(rows) + columns - 1) // columns
    fig, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 5.4 * lines), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        ax.imshow(load_image(index.image_path(row)))
        positives = [ATTRIBUTES[j].replace("_", " ") for j in np.flatnonzero(index.labels[row])]
        ax.set_title(index.ids[row], fontsize=9)
        ax.text(0.0, -0.02, "\n".join(positives), transform=ax.transAxes, va="top", fontsize=7.5)
    fig.tight_layout()
    return fig


def mask_overlay(image, masks: np.ndarray, threshold: float = 0.5):
    """The image with each of the eight group masks (probabilities at any size) overlaid, one panel per group."""
    from PIL import Image

    fig, axes = plt.subplots(2, 4, figsize=(10, 6.2))
    picture = np.asarray(image)
    for ax, group, mask in zip(axes.flat, GROUP_NAMES, masks):
        resized = np.asarray(Image.fromarray((mask >= threshold).astype(np.uint8) * 255).resize(image.size)) > 0
        ax.imshow(picture)
        ax.imshow(np.ma.masked_where(~resized, resized), cmap="autumn", alpha=0.45, vmin=0, vmax=1)
        ax.set_title(group.replace("_", " "), fontsize=10, color=GROUP_COLOURS[group])
        ax.axis("off")
    fig.tight_layout()
    return fig
