"""Stage 1 of Adaptive Mask Learning: train the 8-head UNet on group masks (``mgmtn train-unet``).

The targets are the group boxes cached by ``mgmtn annotate``, rendered into
masks after augmentation so that they move with the image. The run folder
gets ``unet.pt`` (what MGMTN loads, frozen) and ``mask_f1.json`` with the
mean and per-group F1 on the validation split (paper Sec. 4.4: 89.02% on
CelebA's test split with FaRL masks).
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import torch

from mgmtn.attributes import GROUP_NAMES
from mgmtn.config import UNetConfig, get_profile
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.transforms import EvalTransform, TrainTransform
from mgmtn.engine import LoopConfig, fit, load_checkpoint, make_loader, save_checkpoint, seed_everything
from mgmtn.errors import MgmtnError
from mgmtn.losses import MaskLoss
from mgmtn.masks.cache import annotate, box_path, load_boxes
from mgmtn.models.unet import UNet, mask_f1
from mgmtn.provenance import record, write_json


class MaskTask:
    """Per-pixel loss and per-group F1 of the eight mask heads."""

    def __init__(self, dice_weight: float = 0.0):
        self.criterion = MaskLoss(dice_weight)

    def loss(self, model, batch):
        return self.criterion(model(batch["image"]).float(), batch["masks"])

    @torch.no_grad()
    def evaluate(self, model, loader) -> dict[str, float]:
        device = next(model.parameters()).device
        scores = torch.stack([mask_f1(model(b["image"].to(device)).float().cpu(), b["masks"], logits=True) * len(b["image"])
                              for b in loader]).sum(0) / len(loader.dataset)
        return {"mean_f1": float(scores.mean()), **{f"f1_{g}": float(s) for g, s in zip(GROUP_NAMES, scores)}}


def train_unet(data: Path, out: Path, profile: str = "smoke", annotator: str = "synthetic", device: str = "cpu",
               seed: int = 0, resume: bool = False, **overrides) -> dict:
    """Train the UNet on ``data``'s train split; returns the validation F1 record written to the run."""
    cfg: UNetConfig = replace(get_profile(profile).unet, **{k: v for k, v in overrides.items() if v is not None})
    seed_everything(seed)
    index = read_index(data)
    if not box_path(data, annotator).exists():
        annotate(data, annotator)
    boxes = load_boxes(data, annotator, index=index)
    summary = box_path(data, annotator).with_suffix(".json")
    annotation = json.loads(summary.read_text()) if summary.exists() else None
    rows = {name: (index.partition == code).nonzero()[0] for name, code in (("train", 0), ("val", 1))}
    limits = {"train": cfg.train_limit, "val": cfg.val_limit}
    subsets = {name: (index.select(r[:limits[name]]), boxes[r[:limits[name]]]) for name, r in rows.items()}
    if min(len(s[0]) for s in subsets.values()) == 0:
        raise MgmtnError(f"{data}: need images in both the train and val partitions")
    size = cfg.input_size
    (train_index, train_boxes), (val_index, val_boxes) = subsets["train"], subsets["val"]
    train_set = CelebADataset(train_index, transform=TrainTransform(resize=round(size * 256 / 227), crop=size), boxes=train_boxes,
                              seed=seed)
    val_set = CelebADataset(val_index, transform=EvalTransform(size=size), boxes=val_boxes)
    model = UNet(base_width=cfg.base_width, depth=cfg.depth, input_size=size).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    loop = LoopConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, seed=seed, device=device, score="mean_f1")
    config = {"profile": profile, "annotator": annotator, "seed": seed, "unet": asdict(cfg),
              "data": index.describe()}
    out = Path(out)
    history = fit(model, MaskTask(cfg.dice_weight), make_loader(train_set, cfg.batch_size, True, 0, seed),
        make_loader(val_set, cfg.batch_size, False, 0), optimizer, scheduler, loop, out,
        meta={"config": config}, resume=resume)
    model.load_state_dict(load_checkpoint(out / "best.pt")["model"])
    save_checkpoint(out / "unet.pt", {"model": model.state_dict(), "config": asdict(cfg)})
    scores = MaskTask().evaluate(model.eval(), make_loader(val_set, cfg.batch_size, False, 0))
    result = record(device, config=config, annotation=annotation, split="val", images=len(val_set),
                    mean_f1=scores["mean_f1"], f1_per_group={g: scores[f"f1_{g}"] for g in GROUP_NAMES},
                    wall_seconds=round(float((history["train_seconds"] + history["eval_seconds"]).sum()), 1))
    write_json(out / "mask_f1.json", result)
    return result


def load_unet(run: str | Path) -> UNet:
    """The trained UNet of a ``train-unet`` run folder (or its ``unet.pt``), frozen, in eval mode."""
    path = Path(run)
    path = path / "unet.pt" if path.is_dir() else path
    state = load_checkpoint(path)
    cfg = UNetConfig(**state["config"])
    unet = UNet(base_width=cfg.base_width, depth=cfg.depth, input_size=cfg.input_size)
    unet.load_state_dict(state["model"])
    return unet.requires_grad_(False).eval()
