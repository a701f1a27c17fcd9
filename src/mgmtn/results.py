"""The committed results under ``results/``, as tables for the book's pages.

Each run folder there holds the JSON files the CLI wrote (``eval_<split>.json``,
``mask_f1.json``, ``train.json``), with their provenance; this module only
reads them, so a page never retypes a number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mgmtn.attributes import GROUP_NAMES
from mgmtn.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "results"


def evaluations(pattern: str = "*/*/eval_val.json", root: Path = RESULTS) -> pd.DataFrame:
    """One row per evaluation file: model, data, split, accuracy, mA, and where and how it was made."""
    rows = []
    for path in sorted(root.glob(pattern)):
        result = json.loads(path.read_text())
        config = result["config"]
        chosen = result.get("tuned_on_select", {})
        midpoint = chosen.get("by_rule", {}).get("prior 0.5", {})  # the midpoint rule
        rows.append({"run": str(path.parent.relative_to(root)), "model": config["model"],
                     "backbone": config["train"]["backbone"], "image_size": config["train"]["image_size"],
                     "epochs": config["train"]["epochs"], "lr": config["train"]["lr"], "seed": config["seed"],
                     "train_images": trained_images(config),
                     "select_by_person": config.get("split", {}).get("select_identity_disjoint"),
                     "precision": config["train"].get("precision"),
                     "data": Path(config["data"]["root"]).name, "split": result["split"],
                     "images": result["images"], "accuracy": result["accuracy"], "mA": result["mA"],
                     "tuned_accuracy": chosen.get("accuracy"), "tuned_mA": chosen.get("mA"), "rule": chosen.get("rule"),
                     "midpoint_accuracy": midpoint.get("accuracy"), "midpoint_mA": midpoint.get("mA"),
                     "unet_chosen_on": unet_chosen_on(config, root),
                     "code_version": result["code_version"], "hardware": result["hardware"]["platform"]})
    return pd.DataFrame(rows)


def unet_folder(config: dict) -> str | None:
    """The folder under ``results/`` of the UNet that guided a run, from the path its weights were recorded at
    (absolute, in whichever checkout trained the run); None for a run without masks."""
    weights = (config.get("unet") or {}).get("run")
    return str(Path(weights.split("/results/")[-1]).parent) if weights else None


def unet_chosen_on(config: dict, root: Path = RESULTS) -> str | None:
    """The split the mask UNet guiding a run chose its epoch on: ``selection`` or ``val``; None for a run
    without masks or whose UNet is not under ``root``.

    ``train-unet`` records the epoch the selection split chose (``chosen_epoch``); the UNets trained before
    that rule chose theirs on val and record none.
    """
    folder = unet_folder(config)
    record = root / folder / "mask_f1.json" if folder else None
    if record is None or not record.exists():
        return None
    return "selection" if "chosen_epoch" in json.loads(record.read_text()) else "val"


# How ``operating_points`` groups the scores of an evaluation: (operating point, measure).
POINT_COLUMNS = {"accuracy": ("threshold 0.5", "acc"), "mA": ("threshold 0.5", "mA"),
                 "tuned_accuracy": ("chosen on selection", "acc"), "tuned_mA": ("chosen on selection", "mA"),
                 "rule": ("chosen on selection", "rule"),
                 "midpoint_accuracy": ("midpoint rule", "acc"), "midpoint_mA": ("midpoint rule", "mA")}


def operating_points(frame: pd.DataFrame) -> pd.DataFrame:
    """``evaluations`` as one compact table: a row per model and seed, accuracy and mA in % at each
    operating point (0.5; the one chosen on the selection split, with its rule; the midpoint rule), then the
    run's epochs, training images and training minutes."""
    runs = frame.set_index(["model", "seed"])
    table = pd.DataFrame({key: runs[column] if column == "rule" else 100 * runs[column].astype(float)
                          for column, key in POINT_COLUMNS.items()})
    minutes = [training_time(RESULTS / run) for run in runs["run"]]
    table[("run", "epochs")], table[("run", "images")] = runs["epochs"], runs["train_images"]
    table[("run", "minutes")] = [round(m / 60, 1) if m is not None else None for m in minutes]
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table.round(2)


def operating_curves(pattern: str, root: Path = RESULTS) -> pd.DataFrame:
    """Every candidate operating point of each evaluation matching ``pattern`` (``mgmtn.operating_point.
    select_thresholds``), in %: its accuracy and mA on the selection split, which chose it, and on the reported
    split, which did not; ``chosen`` marks the one reported."""
    rows = []
    for path in sorted(root.glob(pattern)):
        result = json.loads(path.read_text())
        config, chosen = result["config"], result.get("tuned_on_select")
        if not chosen:
            continue
        for rule, on_select in chosen["on_select"].items():
            for split, scores in (("selection", on_select), (result["split"], chosen["by_rule"][rule])):
                rows.append({"run": str(path.parent.relative_to(root)), "model": config["model"],
                             "seed": config["seed"], "rule": rule, "split": split, "chosen": rule == chosen["rule"],
                             "accuracy": 100 * scores["accuracy"], "mA": 100 * scores["mA"]})
    return pd.DataFrame(rows)


def alignment_effects(pattern: str = "align-lfwa-subset/*.json", root: Path = RESULTS) -> pd.DataFrame:
    """``mgmtn align-effect`` records as one table in %: a row per run and mode, then the majority answer."""
    rows = []
    for path in sorted(root.glob(pattern)):
        result = json.loads(path.read_text())
        for mode, scores in result["modes"].items():
            chosen = scores.get("at_run_operating_point", {})
            rows.append({"run": path.stem, "align": mode, "acc @0.5": 100 * scores["accuracy"],
                         "mA @0.5": 100 * scores["mA"], "acc (run's point)": 100 * chosen.get("accuracy", float("nan")),
                         "mA (run's point)": 100 * chosen.get("mA", float("nan")),
                         "no face": scores["faces_missed"], "ms/image": scores["align_ms_per_image"],
                         "images": result["images"]})
        rows.append({"run": path.stem, "align": "majority class", "acc @0.5": 100 * result["majority"]["accuracy"],
                     "mA @0.5": 100 * result["majority"]["mA"], "images": result["images"]})
    return pd.DataFrame(rows).round(2)


def per_attribute(frame: pd.DataFrame, model: str, root: Path = RESULTS) -> pd.DataFrame:
    """The per-attribute table (``eval_<split>.per_attribute.csv``) of ``model``'s runs in ``frame``, averaged over
    its seeds."""
    runs = frame[frame["model"] == model]
    tables = [pd.read_csv(root / run / f"eval_{split}.per_attribute.csv")
              for run, split in zip(runs["run"], runs["split"])]
    return pd.concat(tables).groupby(["attribute", "group"], as_index=False, sort=False).mean(numeric_only=True)


def majority(data_root: str | Path, split: str = "val") -> dict | None:
    """Accuracy and mA (in %) of the majority-class answer on ``split`` of a folder; None where it is absent.

    The floor beside which the book shows every real-data score.
    """
    from mgmtn.data.celeba import read_index
    from mgmtn.metrics import majority_scores

    if not Path(data_root).is_dir():
        return None
    index = read_index(data_root)
    scores = majority_scores(index.split("train").labels, index.split(split).labels)
    return {k: 100 * v for k, v in scores.items()}


def recorded_majority(evaluation: str | Path) -> dict | None:
    """``majority`` from what ``mgmtn evaluate`` saved of a run, for data kept outside the repository (LFWA).

    Each attribute's positive rate on the scored split (``eval_<split>.json``)
    and its training prior (``eval_<split>.probs.npz``) are all the floor
    needs; None where the probabilities were not saved.
    """
    import numpy as np

    from mgmtn.attributes import ATTRIBUTES

    path = Path(evaluation)
    probs = path.with_suffix(".probs.npz")
    if not probs.exists():
        return None
    with np.load(probs) as saved:
        majority = saved["train_prior"] >= 0.5
    rates = json.loads(path.read_text())["per_attribute"]
    rate = np.array([rates[name]["positive_rate"] for name in ATTRIBUTES])
    return {"accuracy": 100 * float(np.where(majority, rate, 1 - rate).mean()), "mA": 50.0}


def trained_images(config: dict) -> int:
    """How many images a run trained on: its recorded split, or (older runs) the train partition and limit."""
    if config.get("split"):
        return config["split"]["train"]
    available = config["data"]["per_partition"]["train"]
    return min(config["train"]["train_limit"] or available, available)


def training_time(run: Path) -> float | None:
    """Wall seconds of a finished training run (train.json), or None."""
    path = Path(run) / "train.json"
    return json.loads(path.read_text())["wall_seconds"] if path.exists() else None


def schedules(frame: pd.DataFrame, root: Path = RESULTS) -> pd.DataFrame:
    """``evaluations`` of runs that differ in training schedule, in %: each run's learning rate and epochs,
    the selection-split scores of its best epoch (the basis for choosing a schedule), then its val scores."""
    rows = []
    for run in frame.itertuples():
        history = pd.read_csv(root / run.run / "metrics.csv")
        best = history.loc[history["select_accuracy"].idxmax()]  # the epoch best.pt holds (engine: score)
        scores = {"select acc": best["select_accuracy"], "select mA": best["select_mA"],
                  "val acc @0.5": run.accuracy, "val mA @0.5": run.mA,
                  "val acc chosen": run.tuned_accuracy, "val mA chosen": run.tuned_mA}
        rows.append({"run": run.run, "model": run.model, "lr": run.lr, "epochs": run.epochs,
                     "best epoch": int(best["epoch"]), **{k: round(100 * v, 2) for k, v in scores.items()}})
    return pd.DataFrame(rows).set_index("run")


def mask_scores(pattern: str = "**/mask_f1.json", root: Path = RESULTS) -> pd.DataFrame:
    """One row per UNet evaluation: mean and per-group mask F1, with where it was made."""
    rows = []
    for path in sorted(root.glob(pattern)):
        result = json.loads(path.read_text())
        rows.append({"run": str(path.parent.relative_to(root)), "annotator": result["annotator"],
                     "split": result["split"], "images": result["images"], "mean_f1": result["mean_f1"],
                     **result["f1_per_group"], "code_version": result["code_version"]})
    return pd.DataFrame(rows)


def mask_table(pattern: str = "**/mask_f1.json", root: Path = RESULTS) -> pd.DataFrame:
    """``mask_scores`` for a page: one column per UNet evaluation, mean and per-group F1 (%) down the rows."""
    scores = mask_scores(pattern, root)
    if scores.empty:
        return scores
    labels = scores["run"] + " (" + scores["annotator"] + ", " + scores["split"] + ")"
    return (100 * scores.set_index(labels)[["mean_f1", *GROUP_NAMES]]).T.rename(index={"mean_f1": "mean"}).round(1)
