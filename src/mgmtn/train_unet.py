"""Stage 1 of Adaptive Mask Learning: train the 8-head UNet on group masks (``mgmtn train-unet``).

The targets are the group boxes cached by ``mgmtn annotate``, rendered into
masks after augmentation so that they move with the image. The run folder
gets ``unet.pt`` (what MGMTN loads, frozen: the epoch that scored best on
the selection split) and ``mask_f1.json`` with the mean and per-group F1 on
the validation split, scored after that choice (paper Sec. 4.4: 89.02% on
CelebA's test split with FaRL masks).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import torch

from mgmtn.attributes import GROUP_NAMES
from mgmtn.config import TrainConfig, UNetConfig, get_profile, run_dir
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.image_cache import resized_images
from mgmtn.data.splits import carve_selection, ids_digest
from mgmtn.data.transforms import EvalTransform, TrainTransform
from mgmtn.engine import (LoopConfig, fit, load_checkpoint, make_loader, save_checkpoint, seed_everything,
                          writes_run)
from mgmtn.errors import MgmtnError
from mgmtn.losses import MaskLoss
from mgmtn.masks.annotators import default_annotator
from mgmtn.masks.cache import annotate, box_path, load_boxes
from mgmtn.optim import build_schedule
from mgmtn.models.unet import UNet, f1_from_counts, mask_counts
from mgmtn.provenance import record, write_json


class MaskTask:
    """Per-pixel loss and per-group F1 (counts summed over the whole split) of the eight mask heads."""

    def __init__(self, dice_weight: float = 0.0):
        self.criterion = MaskLoss(dice_weight)

    def loss(self, model, batch):
        return self.criterion(model(batch["image"]).float(), batch["masks"])

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict[str, float]:
        device = next(model.parameters()).device
        counts = sum(mask_counts(model(b["image"].to(device)).float().sigmoid().cpu(), b["masks"]) for b in loader)
        scores = f1_from_counts(counts)
        return {"mean_f1": float(scores.mean()), **{f"f1_{g}": float(v) for g, v in zip(GROUP_NAMES, scores)}}


@writes_run
def train_unet(data: Path, out: Path, profile: str = "smoke", annotator: str | None = None, device: str = "cpu",
               seed: int = 0, resume: bool = False, **overrides) -> dict:
    """Train the UNet on ``data``'s train split; returns the validation F1 record written to the run.

    ``best.pt`` is chosen on the selection split the attribute runs carve from
    the same folder (identity-disjoint where identities are known, the
    profile's ``select_images``); val is scored every epoch beside it for
    reading only, and ``mask_f1.json`` reports val after the choice.
    ``annotator`` defaults to the best one the folder allows (``default_annotator``).
    """
    settings = get_profile(profile)
    cfg: UNetConfig = replace(settings.unet, **{k: v for k, v in overrides.items() if v is not None})
    small = [f"{name} {value}" for name, value in (("epochs", cfg.epochs), ("input size", cfg.input_size),
                                                   ("limit", cfg.train_limit)) if value is not None and value < 1]
    if small:
        raise MgmtnError(f"{small[0]}: must be at least 1")
    seed_everything(seed)
    index = read_index(data)
    annotator = annotator or default_annotator(index)
    annotate(data, annotator)
    rest, select_index = carve_selection(index.split("train"), settings.train.select_images)
    train_index, val_index = rest.split(None, cfg.train_limit), index.split("val", cfg.val_limit)
    if len(train_index) == 0 or len(val_index) == 0:
        raise MgmtnError(f"{data}: need images in both the train and val partitions")
    size = cfg.input_size
    resize = round(size * TrainConfig.resize_ratio)
    train_set = CelebADataset(train_index, boxes=load_boxes(data, annotator, index=train_index), seed=seed,
                              transform=TrainTransform(resize=resize, crop=size),
                              images=resized_images(index, resize))
    loaders = [make_loader(train_set, cfg.batch_size, True, cfg.workers, seed)]
    for part in (select_index, val_index):
        dataset = CelebADataset(part, transform=EvalTransform(size=size), boxes=load_boxes(data, annotator, index=part),
                                images=resized_images(index, size))
        loaders.append(make_loader(dataset, cfg.batch_size, False, cfg.workers, seed))
    model = UNet(**_architecture(asdict(cfg))).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = build_schedule(optimizer, "epoch-cosine", cfg.epochs, len(loaders[0]))
    config = {"profile": profile, "annotator": annotator, "seed": seed, "unet": asdict(cfg),
              "data": index.describe(),
              "split": {"train": len(train_index), "select": len(select_index),
                        "select_identity_disjoint": index.identities is not None,
                        "select_sha256": ids_digest(select_index.ids)}}
    out = Path(out)
    history = fit(model, MaskTask(cfg.dice_weight), *loaders[:2], optimizer, scheduler,
                  LoopConfig(epochs=cfg.epochs, split="select", seed=seed, device=device, score="mean_f1"), out,
                  meta={"config": config}, resume=resume, report={"val": loaders[2]})
    best = load_checkpoint(out / "best.pt")
    model.load_state_dict(best["model"])
    save_checkpoint(out / "unet.pt", {"model": model.state_dict(), "config": asdict(cfg)})
    wall = round(float((history["train_seconds"] + history["eval_seconds"]).sum()), 1)
    return evaluate_unet(out, data, annotator, split="val", limit=cfg.val_limit, device=device,
                         training={"config": config, "wall_seconds": wall, "chosen_epoch": best["epoch"] + 1})


def page_unet(data: Path, profile: str, annotator: str | None = None, device: str = "cpu", seed: int = 0) -> Path:
    """Page 03's UNet for this data and profile, trained first if that page has not run; later pages share it."""
    run = run_dir(None, "03_unet_training", profile, data) / "unet"
    if not (run / "unet.pt").exists():
        train_unet(data, run, profile=profile, annotator=annotator, device=device, seed=seed,
                   resume=(run / "last.pt").exists())
    return run


def evaluate_unet(run: Path, data: Path, annotator: str, split: str, limit: int | None = None,
                  device: str = "cpu", training: dict | None = None, out: Path | None = None,
                  select_images: int | None = None) -> dict:
    """Mean and per-group mask F1 of a trained UNet on a split; written to ``out`` (default ``RUN/mask_f1.json``).

    ``split='select'``: the selection split of ``select_images`` carved from
    ``data``'s train partition (``carve_selection``), where a choice between
    UNets may be made; val and test only report.

    Scoring a UNet on another dataset (e.g. a CelebA UNet on LFWA) takes its
    own ``out``, so that the run's own score is kept. The F1 of each group pools the pixel counts of the whole split (Sec. 4.4
    reports the mean over groups). ``training`` (config and wall time) and the
    annotation statistics of the boxes are recorded beside the scores.
    """
    unet = load_unet(run).to(device)
    index = read_index(data)
    if split == "select":
        if select_images is None:
            raise MgmtnError("scoring a UNet on the selection split needs its size (select_images)")
        index = carve_selection(index.split("train"), select_images)[1].split(None, limit)
    else:
        index = index.split(split, limit)
    boxes = load_boxes(data, annotator, index=index)
    dataset = CelebADataset(index, transform=EvalTransform(size=unet.input_size), boxes=boxes)
    scores = MaskTask().evaluate(unet, make_loader(dataset, 64, False, 0))
    summary = box_path(data, annotator).with_suffix(".json")
    result = record(device, **(training or {}), unet=str(run), data=index.describe(), annotator=annotator,
                    split=split, images=len(index),
                    annotation=json.loads(summary.read_text()) if summary.exists() else None,
                    mean_f1=scores["mean_f1"], f1_per_group={g: scores[f"f1_{g}"] for g in GROUP_NAMES})
    write_json(Path(out) if out else Path(run) / "mask_f1.json", result)
    return result


def chosen_on_selection(run: Path) -> bool:
    """Whether a UNet run's record says its best epoch was chosen on the selection split (older runs chose on val)."""
    path = Path(run) / "mask_f1.json"
    return path.exists() and "select_sha256" in json.loads(path.read_text()).get("config", {}).get("split", {})


def choose_unet(candidates: dict[str, Path], data: Path, annotator: str, select_images: int, out: Path,
                device: str = "cpu") -> tuple[str, dict[str, dict]]:
    """The candidate UNet with the best mean mask F1 on ``data``'s selection split, and every candidate's score.

    The choice is made on the selection split carved from the train partition
    (the people a run may choose on), never on the split later reported.
    Each score is written to ``out / mask_f1_select_<name>.json`` and read from
    there when present, so a finished choice needs no weights.
    """
    scores = {}
    for name, run in candidates.items():
        path = Path(out) / f"mask_f1_select_{name.lower().replace(' ', '_')}.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        scores[name] = saved if saved.get("split") == "select" else evaluate_unet(
            run, data, annotator, split="select", select_images=select_images, device=device, out=path)
    return max(scores, key=lambda name: scores[name]["mean_f1"]), scores


def _architecture(config: dict) -> dict:
    """The UNetConfig fields that shape the network (the rest only shape its training)."""
    return {key: config[key] for key in ("base_width", "depth", "input_size")}


def _unet_file(run: str | Path) -> Path:
    path = Path(run)
    return path / "unet.pt" if path.is_dir() else path


def _unet_state(path: Path) -> dict:
    state = load_checkpoint(path)
    if not {"model", "config"} <= set(state) or not isinstance(state["config"], dict) or \
            "base_width" not in state["config"]:
        raise MgmtnError(f"{path}: not a UNet checkpoint (write one with mgmtn train-unet)")
    return state


def unet_record(run: str | Path) -> dict:
    """Where a trained UNet lives, its architecture and the sha256 of its weights, as an attribute run records it
    (a UNet trained again in another session is another UNet, in the same folder)."""
    path = _unet_file(run).resolve()
    return {"run": str(path), "architecture": _architecture(_unet_state(path)["config"]),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def load_unet(run: str | Path) -> UNet:
    """The trained UNet of a ``train-unet`` run folder (or its ``unet.pt``), frozen, in eval mode."""
    state = _unet_state(_unet_file(run))
    unet = UNet(**_architecture(state["config"]))
    unet.load_state_dict(state["model"])
    return unet.requires_grad_(False).eval()
