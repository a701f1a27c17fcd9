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

    fig, axes = plt.subplots(2, 4, figsize=(10, 0.6 + 5 * image.height / image.width))  # panels keep the aspect
    picture = np.asarray(image)
    for ax, group, mask in zip(axes.flat, GROUP_NAMES, masks):
        resized = np.asarray(Image.fromarray((mask >= threshold).astype(np.uint8) * 255).resize(image.size)) > 0
        ax.imshow(picture)
        ax.imshow(np.ma.masked_where(~resized, resized), cmap="autumn", alpha=0.45, vmin=0, vmax=1)
        ax.set_title(group.replace("_", " "), fontsize=10, color=GROUP_COLOURS[group])
        ax.axis("off")
    fig.tight_layout()
    return fig


def _draw_boxes(ax, boxes: np.ndarray) -> None:
    from matplotlib.patches import Rectangle

    for group, (x0, y0, x1, y1) in zip(GROUP_NAMES, np.asarray(boxes, dtype=float)):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.6, color=GROUP_COLOURS[group]))
        ax.text(x0 + 1, y0 + 6, group.replace("_", " "), fontsize=6.5, color=GROUP_COLOURS[group])


def keypoints_to_masks(image, keypoints: np.ndarray | None, boxes: np.ndarray, masks: np.ndarray,
                       title: str | None = None):
    """Fig. 3 of the paper: keypoints, the eight group rectangles, and the eight binary masks."""
    fig = plt.figure(figsize=(12, 4.6 if title else 4.2))
    grid = fig.add_gridspec(2, 6)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(image)
    if keypoints is not None:
        ax.scatter(keypoints[:, 0], keypoints[:, 1], s=4, c="cyan")
    _draw_boxes(ax, boxes)
    ax.axis("off")
    for k, (group, mask) in enumerate(zip(GROUP_NAMES, masks)):
        sub = fig.add_subplot(grid[k // 4, 2 + k % 4])
        sub.imshow(mask, cmap="gray", vmin=0, vmax=1)
        sub.set_title(group.replace("_", " "), fontsize=9)
        sub.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93) if title else None)
    return fig


def mask_comparison(images: list, predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5):
    """Fig. 6 of the paper: for each face, predicted masks above and ground truth below, per group."""
    faces = len(images)
    fig, axes = plt.subplots(2 * faces, 1 + len(GROUP_NAMES), figsize=(1.4 * (1 + len(GROUP_NAMES)), 2.9 * faces),
                             squeeze=False)
    for f, image in enumerate(images):
        for r, (label, masks) in enumerate((("predicted", predicted[f] >= threshold), ("ground truth", truth[f]))):
            row = axes[2 * f + r]
            row[0].imshow(image)
            row[0].set_ylabel(label, fontsize=8)
            for ax, group, mask in zip(row[1:], GROUP_NAMES, masks):
                ax.imshow(mask, cmap="gray", vmin=0, vmax=1)
                if f == 0 and r == 0:
                    ax.set_title(group.replace("_", " "), fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def learning_curves(histories: dict[str, pd.DataFrame], metrics=("train_loss", "select_accuracy", "select_mA")):
    """One panel per metric, one line per run, against the epoch."""
    metrics = [m for m in metrics if all(m in h for h in histories.values())]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, history in histories.items():
            ax.plot(history["epoch"], history[metric], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(metric.replace("_", " "))
    axes[0][0].legend()
    fig.tight_layout()
    return fig


def attribute_contrasts(base: np.ndarray, seed: int = 0, columns: int = 8):
    """Every attribute switched off and on in one synthetic face: each cue and where it is drawn."""
    from mgmtn.data.synth import attribute_pair

    rows = (len(ATTRIBUTES) + columns - 1) // columns
    fig, axes = plt.subplots(2 * rows, columns, figsize=(1.25 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, name in enumerate(ATTRIBUTES):
        (off, _), (on, _) = attribute_pair(base, name, seed)
        top, bottom = axes[2 * (k // columns), k % columns], axes[2 * (k // columns) + 1, k % columns]
        top.imshow(off)
        bottom.imshow(on)
        top.set_title(f"{name.replace('_', ' ')}\noff / on", fontsize=7, color=GROUP_COLOURS[group_of()[name]])
    fig.tight_layout(h_pad=0.2, w_pad=0.1)
    return fig


def mask_scales(image, masks_by_scale: dict[float, np.ndarray]):
    """One panel per region scale (Fig. 7): the outline of each group's region on the face, in its colour."""
    fig, axes = plt.subplots(1, len(masks_by_scale), figsize=(3 * len(masks_by_scale), 3.4), squeeze=False)
    for ax, (scale, masks) in zip(axes[0], masks_by_scale.items()):
        ax.imshow(image)
        for group, mask in zip(GROUP_NAMES, masks):
            if mask.any():
                ax.contour(mask.astype(float), levels=[0.5], colors=[GROUP_COLOURS[group]], linewidths=1.5)
        ax.set_title(f"{scale:.0%} of the region", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def position_maps(results: dict[str, dict]):
    """Fig. 8 as densities: where each group's max-pooled features fire, one row per model.

    ``results`` maps a label to an ``activation_positions`` record; each panel
    is the share of positions per cell of that model's feature grid; its title
    gives how much of the chosen cells lies in the group's annotated region,
    and how much random cells would.
    """
    fig, axes = plt.subplots(len(results), len(GROUP_NAMES), figsize=(1.9 * len(GROUP_NAMES), 2.2 * len(results)),
                             squeeze=False)
    for row, (label, result) in zip(axes, results.items()):
        for ax, group in zip(row, GROUP_NAMES):
            ax.imshow(np.asarray(result["density"][group]), cmap="magma", vmin=0)
            ax.set_title(f"{group.replace('_', ' ')}\n{result['inside'][group]:.0%} in region "
                         f"(chance {result['chance'][group]:.0%})", fontsize=8, color=GROUP_COLOURS[group])
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{label}\n{result['level']} {result['grid'][0]}x{result['grid'][1]}", fontsize=9)
    fig.tight_layout()
    return fig


def recipe_scores(table: pd.DataFrame, majority: dict | None = None):
    """Val accuracy and mA of each recipe row, both operating points, beside the majority-class floor."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.42 * len(table) + 1.2), sharey=True)
    rows = table.set_index("row")
    for ax, metric in zip(axes, ("acc", "mA")):
        scores = rows[[f"val {metric}", f"val {metric} (tuned)"]].set_axis(["threshold 0.5", "tuned on selection"],
                                                                           axis=1)
        scores.plot.barh(ax=ax, width=0.8, legend=ax is axes[0])
        floor = (majority or {}).get("accuracy" if metric == "acc" else "mA")
        if floor is not None:
            ax.axvline(floor, color="black", lw=1, ls="--", label="majority class")
        low = min(scores.min().min(), floor or 100) - 2
        ax.set_xlim(low, min(100, scores.max().max() + 1))
        ax.set_xlabel(f"val {'accuracy' if metric == 'acc' else 'mA'} (%)")
        ax.set_ylabel("")
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def scores_beside_paper(runs: pd.DataFrame, paper: pd.DataFrame | None = None, majority: dict | None = None,
                        paper_label: str = "paper (CelebA test)"):
    """Accuracy and mA (%) per model: ours at threshold 0.5 and at the point chosen on the selection split (seed
    means, bars spanning the seeds), the paper's row for the model, and the majority-class floor.

    ``runs``: ``mgmtn.results.evaluations`` rows (fractions); ``paper``: accuracy and mA (%) indexed by model.
    """
    points = {"ours, threshold 0.5": ("accuracy", "mA"), "ours, chosen on selection": ("tuned_accuracy", "tuned_mA")}
    models = list(dict.fromkeys(runs["model"]))
    y = np.arange(len(models))
    fig, axes = plt.subplots(1, 2, figsize=(11, 1.5 + 0.6 * len(models)), sharey=True)
    for k, (ax, metric) in enumerate(zip(axes, ("accuracy", "mA"))):
        for offset, (label, columns) in zip((-0.2, 0.0), points.items()):
            seeds = 100 * runs.groupby("model")[columns[k]].agg(["mean", "min", "max"]).reindex(models).astype(float)
            ax.errorbar(seeds["mean"], y + offset, xerr=[seeds["mean"] - seeds["min"], seeds["max"] - seeds["mean"]],
                        fmt="o", capsize=3, label=label)
        if paper is not None:
            ax.plot(paper.reindex(models)[metric], y + 0.2, "s", mfc="none", color="C3", label=paper_label)
        if majority is not None:
            ax.axvline(majority[metric], color="black", lw=1, ls="--", label="majority class")
        ax.set_xlabel(f"{metric} (%)")
    axes[0].set_yticks(y, models)
    axes[0].set_ylim(len(models) - 0.5, -0.5)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def attribute_scores(per_attribute: dict[str, pd.DataFrame], metric: str = "balanced_accuracy"):
    """``metric`` (%) of every attribute, one marker per model, sorted by the first model; labels in group colours.

    ``per_attribute`` maps a model to its per-attribute table (``eval_<split>.per_attribute.csv``, or a mean of
    several).
    """
    first = next(iter(per_attribute.values())).set_index("attribute")[metric].sort_values()
    y = np.arange(len(first))
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(first) + 1.2))
    for name, table in per_attribute.items():
        ax.plot(100 * table.set_index("attribute")[metric].reindex(first.index), y, "o", ms=4, label=name)
    ax.set_yticks(y, [a.replace("_", " ") for a in first.index], fontsize=7)
    for label, attribute in zip(ax.get_yticklabels(), first.index):
        label.set_color(GROUP_COLOURS[group_of()[attribute]])
    ax.axvline(50, color="black", lw=1, ls="--", label="chance (majority class)")
    ax.set_xlabel(f"{metric.replace('_', ' ')} (%)")
    ax.set_ylim(-0.5, len(first) - 0.5)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def operating_curves(curves: pd.DataFrame, target: tuple[float, float] | None = None):
    """Accuracy against mA (%) of each run's candidate operating points (``mgmtn.results.operating_curves``):
    thresholds moved from 0.5 towards the positive rate (lines) and tuned per attribute (crosses), on the
    selection split that chooses and the reported split that does not; the chosen point is ringed."""
    splits = list(dict.fromkeys(curves["split"]))
    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 4.2), sharex=True, sharey=True,
                             squeeze=False)
    for ax, split in zip(axes[0], splits):
        part = curves[curves["split"] == split]
        prior = part[part["rule"].str.startswith("prior")]
        sns.lineplot(prior, x="mA", y="accuracy", hue="model", units="run", estimator=None, sort=False,
                     marker=".", ax=ax, legend=ax is axes[0][0])
        tuned = part[part["rule"] == "tuned"]
        ax.scatter(tuned["mA"], tuned["accuracy"], marker="x", color="grey", label="tuned per attribute")
        chosen = part[part["chosen"]]
        ax.scatter(chosen["mA"], chosen["accuracy"], s=90, facecolors="none", edgecolors="black", label="chosen")
        if target is not None:
            ax.axhline(target[0], color="red", lw=0.8, ls=":")
            ax.axvline(target[1], color="red", lw=0.8, ls=":", label="target")
        ax.set(title=f"{split} split", xlabel="mA (%)", ylabel="accuracy (%)")
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


VERDICT_COLOURS = {"agrees": "tab:green", "disagrees": "tab:red", "inconclusive": "tab:grey"}


def forest(claims: pd.DataFrame):
    """Every claim's gain with its 95% interval (``mgmtn.claims.claim_intervals``), one panel per metric,
    coloured by verdict, beside the paper's point gain (a black diamond, labelled as the paper's); a gain
    measured in a regime other than from scratch is labelled with it."""
    metrics = list(dict.fromkeys(claims["metric"]))
    regime = claims["regime"] if "regime" in claims else pd.Series("scratch", claims.index)
    claims = claims.assign(label=claims["source"] + ": " + claims["claim"]
                           + regime.map(lambda r: "" if r == "scratch" else f" ({r})"))
    labels = list(dict.fromkeys(claims["label"]))
    height = 0.32 * len(labels) + 1.5
    fig, axes = plt.subplots(1, len(metrics), figsize=(12, height), sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = claims[claims["metric"] == metric]
        y = [len(labels) - 1 - labels.index(label) for label in rows["label"]]
        for position, row in zip(y, rows.itertuples()):
            ax.plot([row.low, row.high], [position, position], color=VERDICT_COLOURS[row.verdict], lw=2.5)
            ax.plot(row.ours, position, "o", color=VERDICT_COLOURS[row.verdict], ms=4)
        paper = rows["paper"].astype(float)
        if paper.notna().any():  # Fig. 9 prints no values
            ax.plot(paper, y, "D", color="black", ms=4, label="paper's point gain (ResNeSt50, test)")
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{metric} gain (points): ours with 95% interval")
        # Gains span a tenth of a point to ten points: linear within +-1, logarithmic beyond.
        ax.set_xscale("symlog", linthresh=1.0, linscale=2.0)
        edge = max(np.nanmax(np.abs(np.r_[rows["low"], rows["high"], paper])) * 1.15, 0.5)  # 0.5: gains of 0
        ticks = [t for t in (-10, -3, -1, -0.5, 0, 0.5, 1, 3, 10) if abs(t) <= edge]
        ax.set_xlim(-edge, edge)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.grid(axis="x", lw=0.3)
    axes[0][0].set_yticks(range(len(labels)), labels[::-1], fontsize=8)
    handles = [plt.Line2D([], [], color=c, lw=2.5, label=f"ours: {v}") for v, c in VERDICT_COLOURS.items()]
    fig.legend(handles=handles + axes[0][0].get_legend_handles_labels()[0], fontsize=8, loc="lower center",
               ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.45 / height, 1, 1))  # the legend's strip, however few the claims
    return fig
