"""Scoring a trained run on any CelebA-layout folder, and predicting attributes of single images.

``evaluate`` writes the numbers the book quotes: accuracy and mA at the
default threshold 0.5, plus, for a val or test split, at per-attribute
thresholds chosen on the selection split (never on the split reported), and
saves the probabilities so that ``rescore`` can choose again without the model.
Each results file carries its config, code version, data, hardware and wall time.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from mgmtn import metrics, operating_point
from mgmtn.attributes import ATTRIBUTES
from mgmtn.data.align import FaceAligner, needs_alignment, whole_image
from mgmtn.data.celeba import CelebAIndex, load_image, read_index
from mgmtn.config import TrainConfig
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.image_cache import resized_images
from mgmtn.data.layout import atomic_write
from mgmtn.data.splits import MAX_SHARE, carve_selection
from mgmtn.engine import make_loader
from mgmtn.errors import DataError, MgmtnError
from mgmtn.ownership import check_output_file, check_writable, written_json
from mgmtn.provenance import record, write_json
from mgmtn.train import eval_transform, load_run, predict_probs


def _probs(model, index, transform, images, batch_size: int, device: str):
    loader = make_loader(CelebADataset(index, transform=transform, images=images), batch_size, False, 0)
    return predict_probs(model, loader, device)


def score(targets: np.ndarray, probs: np.ndarray, select: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
          point: dict | None = None) -> tuple[dict, pd.DataFrame]:
    """Accuracy and mA at 0.5; given ``select`` (the selection split's targets and probabilities and the
    training positive rates), at the operating point chosen there; given ``point`` (the run's recorded one,
    ``operating_point.read``), at that point. Returns the summary and the per-attribute table."""
    table = metrics.per_attribute(targets, probs)
    result = {"images": len(targets), **metrics.summary(targets, probs)}
    if point is not None:
        result["at_run_point"] = {**metrics.summary(targets, probs, point["array"]), "rule": point["rule"],
                                  "select_sha256": point["select_sha256"]}
    if select is not None:
        select_targets, select_probs, prior = select
        rule, rules, on_select = operating_point.select_thresholds(select_targets, select_probs, prior)
        thresholds = rules[rule]
        # Every candidate's score on the reported split is kept for reading; the chosen one is the one reported.
        result["tuned_on_select"] = {**metrics.summary(targets, probs, thresholds), "rule": rule,
                                     "select_images": len(select_targets), "on_select": on_select,
                                     "by_rule": {name: metrics.summary(targets, probs, values)
                                                 for name, values in rules.items()}}
        result["thresholds"] = dict(zip(ATTRIBUTES, thresholds.tolist()))
        table["tuned_threshold"] = thresholds
        tuned = metrics.per_attribute(targets, probs, thresholds)
        table["tuned_balanced_accuracy"] = tuned["balanced_accuracy"].to_numpy()
    result["per_attribute"] = table.set_index("attribute").drop(columns="group").to_dict(orient="index")
    return result, table


def per_attribute_path(out: Path) -> Path:
    """The per-attribute CSV beside an evaluation's JSON (``report.json`` -> ``report.per_attribute.csv``)."""
    return Path(out).with_suffix(".per_attribute.csv")


def probs_path(out: Path) -> Path:
    """The saved probabilities beside an evaluation's JSON (``report.json`` -> ``report.probs.npz``)."""
    return Path(out).with_suffix(".probs.npz")


EVALUATION_KEYS = ("config", "split", "per_attribute")


def is_evaluation(path: Path) -> bool:
    """Whether ``path`` is a JSON file that ``evaluate`` (or ``rescore``) wrote."""
    return written_json(path, EVALUATION_KEYS)


def default_out(run: Path, config: dict, data: Path, split: str) -> Path:
    """``RUN/eval_SPLIT.json`` on the folder the run trained on; on another folder a name of its own
    (``RUN/eval_FOLDER-DIGEST_SPLIT.json``, the digest of its full path), so two datasets never share a file."""
    data = Path(data).resolve()
    if Path(config.get("data", {}).get("root", "")).resolve() == data:
        return Path(run) / f"eval_{split}.json"
    digest = hashlib.sha1(str(data).encode()).hexdigest()[:8]
    return Path(run) / f"eval_{data.name}-{digest}_{split}.json"


def check_out(out: Path, force: bool = False) -> None:
    """Refuse, before any scoring, an output that is not a ``.json`` file name or whose files (the JSON, its
    per-attribute CSV, its probabilities) exist without being an earlier evaluation, unless ``force``."""
    out = Path(out)
    if out.suffix != ".json":
        raise MgmtnError(f"{out}: --out takes a .json file name (the CSV and .probs.npz are written beside it)")
    check_output_file(out, "evaluate", EVALUATION_KEYS, force)
    taken = [p for p in (per_attribute_path(out), probs_path(out)) if p.exists()]
    if taken and not force and not is_evaluation(out):
        raise MgmtnError(f"{taken[0]} exists and was not written by mgmtn evaluate; pass --force to replace it "
                         "or choose another --out")


def _write(out: Path, device: str, result: dict, table: pd.DataFrame, arrays: dict | None, started: float) -> None:
    write_json(out, record(device, **result, wall_seconds=round(time.perf_counter() - started, 1)))
    with atomic_write(per_attribute_path(out)) as f:
        table.to_csv(f, index=False)
    if arrays is not None:
        with atomic_write(probs_path(out), "wb") as f:  # for operating-point studies without the model
            np.savez_compressed(f, **arrays)


def evaluate(run: Path, data: Path, split: str = "val", out: Path | None = None, device: str = "cpu",
             batch_size: int = 64, limit: int | None = None, force: bool = False) -> dict:
    """Score the best checkpoint of ``run`` on ``split`` of ``data`` ('all' for every image).

    Threshold 0.5, the run's own operating point (``operating_point.json``,
    where the run records one: any folder, a test-only one included) and,
    where ``data`` has a train partition, the operating point chosen on the
    selection split carved from it, never on the split reported (see
    ``select_thresholds``); a carve that is not the run's (another sha256 of
    its ids) is refused. Writes JSON, a per-attribute CSV and the
    probabilities (``.probs.npz``: ids and float16 probabilities of the
    split and of the selection split) beside it; ``out`` defaults to
    ``default_out`` and never replaces a file that ``evaluate`` did not
    write, unless ``force``.
    """
    started = time.perf_counter()
    if limit is not None and limit < 1:
        raise MgmtnError(f"limit {limit}: must be at least 1")
    model, config = load_run(run, device)
    out = Path(out) if out else default_out(run, config, data, split)
    check_out(out, force)
    cfg = TrainConfig.from_record(config["train"])
    index = read_index(data)
    part = index.split(None if split == "all" else split, limit)
    if len(part) == 0:
        raise MgmtnError(f"{data}: the {split} split is empty")
    images = resized_images(index, cfg.resize) if cfg.image_cache else None
    transform = eval_transform(cfg)
    targets, probs = _probs(model, part, transform, images, batch_size, device)
    # Scored as saved (float16), so that ``rescore`` reproduces these numbers from the file.
    probs = probs.astype(np.float16)
    arrays = {"ids": np.asarray(part.ids), "probs": probs}
    select, point = None, operating_point.read(run)
    train_part = index.split("train")
    if split in ("val", "test") and len(train_part) >= MAX_SHARE:
        rest, chosen = carve_selection(train_part, cfg.select_images)
        operating_point.check_carve(run, point, chosen.ids, data)
        select_targets, select_probs = _probs(model, chosen, transform, images, batch_size, device)
        select = (select_targets, select_probs.astype(np.float16).astype(np.float32), rest.labels.mean(0))
        arrays |= {"select_ids": np.asarray(chosen.ids), "select_probs": select[1].astype(np.float16),
                   "train_prior": select[2]}
    result, table = score(targets, probs.astype(np.float32), select, point)
    result = {"run": str(run), "split": split, **result}
    _write(out, device, {**result, "config": config, "data": part.describe()}, table, arrays, started)
    return result


def rescore(path: Path, index: CelebAIndex) -> dict:
    """Score a saved evaluation again from its probabilities (``.probs.npz`` beside ``path``), with today's
    choice of operating point, without the model; ``index`` is the data it scored. Rewrites ``path`` and its
    CSV; the provenance of the probabilities is kept under ``probs_from``. Where the run folder is a usable
    run (it holds ``best.pt`` or an operating point) and today's choice differs from its recorded point,
    its ``operating_point.json`` is rewritten."""
    started = time.perf_counter()
    path = Path(path)
    if not is_evaluation(path):
        raise DataError(f"{path}: not an evaluation written by mgmtn evaluate")
    saved = json.loads(path.read_text())
    try:
        arrays = dict(np.load(probs_path(path)))
    except FileNotFoundError:
        raise DataError(f"{probs_path(path)}: no saved probabilities to score again") from None
    rows = {name: i for i, name in enumerate(index.ids)}

    def targets(ids) -> np.ndarray:
        missing = [str(i) for i in ids if str(i) not in rows]
        if missing:
            raise DataError(f"{path}: image {missing[0]} is not in {index.root}")
        return index.labels[[rows[str(i)] for i in ids]]

    select, run = None, Path(saved["run"])
    point = operating_point.read(run) if run.is_dir() else None
    if "select_probs" in arrays:
        select = (targets(arrays["select_ids"]), arrays["select_probs"].astype(np.float32), arrays["train_prior"])
        today = operating_point.choose(arrays["select_ids"].tolist(), *select)
        if (point is not None or (run / "best.pt").exists()) and (
                point is None or (point["rule"], point["thresholds"]) != (today["rule"], today["thresholds"])):
            operating_point.write(run, today)
            point = operating_point.read(run)
    result, table = score(targets(arrays["ids"]), arrays["probs"].astype(np.float32), select, point)
    result = {"run": saved["run"], "split": saved["split"], **result}
    first = saved.get("probs_from") or {key: saved[key] for key in ("code_version", "written_at", "wall_seconds")}
    _write(path, "cpu", {**result, "config": saved["config"], "data": saved["data"], "probs_from": first},
           table, None, started)
    return result


def overlay_names(images: list[Path]) -> list[str]:
    """One distinct PNG name per image file: its stem, then its extension, then as many parent folders as it
    takes to differ (the same file given twice keeps one name)."""
    paths = [Path(p).resolve() for p in images]

    def name(p: Path, depth: int, extension: bool) -> str:
        stem = f"{p.stem}_{p.suffix.lstrip('.')}" if extension and p.suffix else p.stem
        return "_".join((*p.parent.parts[len(p.parent.parts) - depth:], stem)) if depth else stem

    for depth in range(max(len(p.parts) for p in paths) + 1):
        for extension in (False, True):
            names = [name(p, depth, extension) for p in paths]
            if len(set(names)) == len(set(paths)) == len(set(zip(names, paths))):
                return [f"{n}_masks.png" for n in names]
    return [f"{k}_{p.stem}_masks.png" for k, p in enumerate(paths)]


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


def _answer_point(run: Path) -> dict:
    """The thresholds ``predict`` answers yes/no at: the run's own operating point, else 0.5."""
    point = operating_point.read(run)
    if point is None:
        return {"rule": "threshold 0.5 (the run records no operating point)",
                "thresholds": dict.fromkeys(ATTRIBUTES, 0.5)}
    return {"rule": f"the run's operating point ({point['rule']})", "thresholds": point["thresholds"]}


@torch.no_grad()
def predict(run: Path, images: list[Path], device: str = "cpu", overlay_dir: Path | None = None,
            align: str = "auto", batch_size: int = 64) -> tuple[pd.DataFrame, dict[str, str]]:
    """Attribute probabilities, one row per face found, and a message for each image without a result.

    ``align``: 'auto' detects and aligns the faces of every image that is not
    already CelebA's aligned 178x218 size, 'always' every image, 'none' takes
    each image as one face as it is (``mgmtn.data.align``). Each row holds the
    image, the face's number and its box in the image (``FACE_COLUMNS``), then
    the 40 probabilities; ``table.attrs['operating_point']`` holds the
    thresholds a yes/no answer takes (the run's own point, else 0.5) and their
    rule. ``overlay_dir``: one PNG per image of its faces'
    predicted masks drawn on the original image, under a distinct name; an
    existing file there is never replaced.
    """
    if overlay_dir is not None and Path(overlay_dir).exists() and not Path(overlay_dir).is_dir():
        raise MgmtnError(f"{overlay_dir} is a file; --overlay takes a folder")
    if overlay_dir is not None:
        check_writable(Path(overlay_dir))
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
    table.attrs["operating_point"] = _answer_point(run)
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
