"""Scoring a trained run on any CelebA-layout folder, and predicting attributes of single images.

``evaluate`` writes the numbers the book quotes: accuracy and mA at the
default threshold 0.5, plus, for a val or test split, with per-attribute
thresholds tuned on the selection split (never on the split reported).
Each results file carries its config, code version, data, hardware and wall time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from mgmtn import metrics
from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.align import FaceAligner, needs_alignment, whole_image
from mgmtn.data.celeba import load_image, read_index
from mgmtn.config import TrainConfig
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.image_cache import resized_images
from mgmtn.data.layout import atomic_write
from mgmtn.data.splits import MAX_SHARE, carve_selection
from mgmtn.engine import make_loader
from mgmtn.errors import DataError, MgmtnError
from mgmtn.provenance import record, write_json
from mgmtn.train import eval_transform, load_run, predict_probs


def _probs(model, index, transform, images, batch_size: int, device: str):
    loader = make_loader(CelebADataset(index, transform=transform, images=images), batch_size, False, 0)
    return predict_probs(model, loader, device)


def select_thresholds(targets: np.ndarray, probs: np.ndarray,
                      prior: np.ndarray) -> tuple[str, dict[str, np.ndarray], dict]:
    """Per-attribute thresholds by the rule that scores best on the selection split (mean of accuracy and mA).

    Two rules compete: thresholds tuned on the selection split ('tuned', the
    mean of accuracy and balanced accuracy per attribute), and halfway
    between 0.5 and each attribute's positive rate in training ('midpoint',
    which looks at no scores). The tuned rule is scored by two-fold
    cross-validation within the split, so that it is not judged on the images
    it was tuned on. Returns the winner's name, each rule's thresholds (the
    tuned ones tuned on the whole split) and each rule's selection scores.
    """
    def score(t, p, thresholds):
        summary = metrics.summary(t, p, thresholds)
        return (summary["accuracy"] + summary["mA"]) / 2

    folds = np.arange(len(targets)) % 2 == 0
    tuned = np.mean([score(targets[~fold], probs[~fold],
                           metrics.tune_thresholds(targets[fold], probs[fold], metric="mean"))
                     for fold in (folds, ~folds)])
    rules = {"tuned": metrics.tune_thresholds(targets, probs, metric="mean"), "midpoint": (0.5 + prior) / 2}
    scores = {"tuned": float(tuned), "midpoint": score(targets, probs, rules["midpoint"])}
    return max(scores, key=scores.get), rules, scores


def evaluate(run: Path, data: Path, split: str = "val", out: Path | None = None, device: str = "cpu",
             batch_size: int = 64, limit: int | None = None) -> dict:
    """Score the best checkpoint of ``run`` on ``split`` of ``data`` ('all' for every image).

    Threshold 0.5, and one operating point chosen on the selection split
    carved from ``data``'s train partition, never on the split reported (see
    ``select_thresholds``). Writes JSON, a per-attribute CSV and the
    probabilities (``.probs.npz``: ids and float16 probabilities of the
    split and of the selection split) beside it.
    """
    started = time.perf_counter()
    model, config = load_run(run, device)
    cfg = TrainConfig.from_record(config["train"])
    index = read_index(data)
    part = index.split(None if split == "all" else split, limit)
    if len(part) == 0:
        raise MgmtnError(f"{data}: the {split} split is empty")
    images = resized_images(index, cfg.resize) if cfg.image_cache else None
    transform = eval_transform(cfg)
    targets, probs = _probs(model, part, transform, images, batch_size, device)
    table = metrics.per_attribute(targets, probs)
    result = {"run": str(run), "split": split, "images": len(part), **metrics.summary(targets, probs)}
    scores = {"ids": np.asarray(part.ids), "probs": probs.astype(np.float16)}
    train_part = index.split("train")
    if split in ("val", "test") and len(train_part) >= MAX_SHARE:
        rest, select = carve_selection(train_part, cfg.select_images)
        select_targets, select_probs = _probs(model, select, transform, images, batch_size, device)
        prior = rest.labels.mean(0)
        rule, rules, on_select = select_thresholds(select_targets, select_probs, prior)
        thresholds = rules[rule]
        scores |= {"select_ids": np.asarray(select.ids), "select_probs": select_probs.astype(np.float16),
                   "train_prior": prior}
        # Every rule's score on the reported split is kept for reading, the chosen one is the one reported.
        result["tuned_on_select"] = {**metrics.summary(targets, probs, thresholds), "rule": rule,
                                     "select_images": len(select), "on_select": on_select,
                                     "by_rule": {name: metrics.summary(targets, probs, values)
                                                 for name, values in rules.items()}}
        result["thresholds"] = dict(zip(ATTRIBUTES, thresholds.tolist()))
        table["tuned_threshold"] = thresholds
        tuned = metrics.per_attribute(targets, probs, thresholds)
        table["tuned_balanced_accuracy"] = tuned["balanced_accuracy"].to_numpy()
    result["per_attribute"] = table.set_index("attribute").drop(columns="group").to_dict(orient="index")
    out = Path(out) if out else Path(run) / f"eval_{split}.json"
    write_json(out, record(device, **result, config=config, data=part.describe(),
                           wall_seconds=round(time.perf_counter() - started, 1)))
    with atomic_write(out.with_suffix(".csv")) as f:
        table.to_csv(f, index=False)
    with atomic_write(out.with_suffix(".probs.npz"), "wb") as f:  # for operating-point studies without the model
        np.savez_compressed(f, **scores)
    return result


def overlay_names(images: list[Path]) -> list[str]:
    """One distinct PNG name per image: its stem, led by as many parent folders as it takes to differ."""
    paths = [Path(p).resolve() for p in images]
    depth = 0
    while True:
        names = ["_".join((*p.parent.parts[len(p.parent.parts) - depth:], p.stem)) if depth else p.stem
                 for p in paths]
        if len(set(names)) == len(names) or depth > max(len(p.parts) for p in paths):
            return [f"{name}_masks.png" for name in names]
        depth += 1


FACE_COLUMNS = ["image", "face", "x0", "y0", "x1", "y1"]


def _faces(pictures: dict, align: str) -> tuple[dict, dict[str, str]]:
    """The faces of each picture (see ``mgmtn.data.align``), and a message for each picture without one."""
    aligner = None
    faces, missing = {}, {}
    for path, picture in pictures.items():
        if not needs_alignment(picture, align):
            faces[path] = [whole_image(picture)]
            continue
        aligner = aligner or FaceAligner()
        faces[path] = aligner(picture)
        if not faces[path]:
            missing[path] = f"{path}: no face found (for a face already cropped, use --align none)"
    return {path: found for path, found in faces.items() if found}, missing


def _masks_on_photo(masks: np.ndarray, matrix: np.ndarray, side: int, photo_size: tuple[int, int]) -> np.ndarray:
    """Masks (8, h, w) predicted on a ``side``-px model input, mapped back onto the photo's pixels."""
    to_masks = np.diag([masks.shape[2] / side, masks.shape[1] / side, 1.0]) @ matrix
    data = tuple(to_masks[:2].ravel())  # PIL asks, for each photo pixel, where it falls in the mask
    return np.stack([np.asarray(Image.fromarray(mask.astype(np.float32)).transform(
        photo_size, Image.Transform.AFFINE, data=data, resample=Image.Resampling.BILINEAR, fillcolor=0))
        for mask in masks])


@torch.no_grad()
def predict(run: Path, images: list[Path], device: str = "cpu", overlay_dir: Path | None = None,
            align: str = "auto", batch_size: int = 64) -> tuple[pd.DataFrame, dict[str, str]]:
    """Attribute probabilities, one row per face found, and a message for each image without a result.

    ``align``: 'auto' detects and aligns the faces of every image that is not
    already CelebA's aligned 178x218 size, 'always' every image, 'none' takes
    each image as one face as it is (``mgmtn.data.align``). Each row holds the
    image, the face's number and its box in the image (``FACE_COLUMNS``), then
    the 40 probabilities. ``overlay_dir``: one PNG per image of its faces'
    predicted masks drawn on the original image, under a distinct name; an
    existing file there is never replaced.
    """
    pictures, failed = {}, {}
    for path in images:
        try:
            pictures[str(path)] = load_image(Path(path), upright=True)
        except DataError as error:
            failed[str(path)] = str(error)
    model, config = load_run(run, device)
    if overlay_dir is not None and getattr(model, "unet", None) is None:
        raise MgmtnError(f"model {config['model']} predicts no masks; --overlay needs a mask-guided model")
    if overlay_dir is not None:
        targets = {str(p): Path(overlay_dir) / name for p, name in zip(images, overlay_names(images))}
        existing = [str(targets[p]) for p in pictures if targets[p].exists()]
        if existing:
            raise MgmtnError(f"{existing[0]} already exists; choose another --overlay folder")
    faces, missing = _faces(pictures, align)
    failed |= missing
    rows = [(path, k, face) for path, found in faces.items() for k, face in enumerate(found)]
    if not rows:
        return pd.DataFrame(columns=FACE_COLUMNS + list(ATTRIBUTES)), failed
    transform = eval_transform(TrainConfig.from_record(config["train"]))
    rng = np.random.default_rng(0)
    probs, masks = [], []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        batch = torch.stack([transform(face.image(pictures[path]), None, rng)[0] for path, _, face in chunk])
        output = model(batch.to(device))
        probs.append(torch.sigmoid(output.logits.float()).cpu().numpy())
        if overlay_dir is not None:
            masks.extend(output.masks.float().cpu().numpy())
    table = pd.DataFrame([(path, k, *face.box) for path, k, face in rows], columns=FACE_COLUMNS)
    table[list(ATTRIBUTES)] = np.concatenate(probs)
    if overlay_dir is not None:
        import matplotlib.pyplot as plt

        from mgmtn.plots import mask_overlay
        Path(overlay_dir).mkdir(parents=True, exist_ok=True)
        for path in faces:
            picture = pictures[path]
            on_photo = np.max([_masks_on_photo(mask, transform.matrix(face.size) @ face.matrix, transform.size,
                                               picture.size)
                               for (p, _, face), mask in zip(rows, masks) if p == path], axis=0)
            figure = mask_overlay(picture, on_photo)
            with atomic_write(targets[path], "wb") as f:
                figure.savefig(f, dpi=100, format="png")
            plt.close(figure)
    return table, failed
