"""Training an attribute model (MGMTN, its ablations, the baselines, the comparison methods) on a CelebA-layout folder.

``train`` builds the data, the model and the loss from a profile, then hands
them to the shared loop in ``mgmtn.engine``. The MGMTN family trains with the
profile's loss; a comparison method brings its paper's objective
(``mgmtn.models.build_objective``), which is trained and checkpointed with
the model. The run folder it writes is all that ``mgmtn evaluate`` and
``mgmtn predict`` need: ``config.json`` says how to rebuild the model,
``best.pt`` holds its weights.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, replace
from itertools import chain
from pathlib import Path

import numpy as np
import torch

from mgmtn import metrics, operating_point
from mgmtn.config import TrainConfig, get_profile
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.image_cache import resized_images
from mgmtn.data.splits import carve_selection, ids_digest
from mgmtn.data.transforms import EvalTransform, TrainTransform
from mgmtn.engine import (LoopConfig, fit, is_main, load_checkpoint, make_loader, native_bf16,
                          seed_everything, setup_distributed, writes_run)
from mgmtn.errors import MgmtnError
from mgmtn.losses import build_loss
from mgmtn.masks.annotators import default_annotator
from mgmtn.masks.cache import annotate, load_boxes
from mgmtn.models import LANDMARK_MODELS, MASK_MODELS, MGMTN, MODEL_NAMES, Objective, build_model, build_objective
from mgmtn.models.backbone import weights_digest
from mgmtn.models.landmarks import LandmarkDataset
from mgmtn.models.objective import predict_logits
from mgmtn.models.prior import start_at_prior
from mgmtn.optim import build_optimizer, build_schedule
from mgmtn.provenance import record, write_json
from mgmtn.models.unet import UNet
from mgmtn.train_unet import load_unet, unet_record


class AttributeTask:
    """Loss and validation metrics of the 40-attribute problem."""

    def __init__(self, loss: torch.nn.Module):
        self.criterion = loss

    def loss(self, model, batch):
        return self.criterion(model(batch["image"]).logits.float(), batch["labels"])

    def evaluate(self, model, loader) -> dict[str, float]:
        targets, probs = predict_probs(model, loader)
        return metrics.summary(targets, probs)


def predict_probs(model, loader, device: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels and sigmoid probabilities of every image the loader yields, in order."""
    targets, logits = predict_logits(model, loader, device)
    return targets.numpy().astype(np.uint8), logits.sigmoid().numpy()


GLOBAL_POOL_MODELS = ("global", "ag", *MASK_MODELS)  # the MGMTN family: a pooled global feature, Fig. 4's heads


def eval_transform(cfg: TrainConfig) -> EvalTransform:
    """The face framed as training frames it on average: the training resize, then the centre crop."""
    return EvalTransform(size=cfg.image_size, resize=cfg.resize)


def model_from_config(config: dict, fresh: bool = True) -> torch.nn.Module:
    """Build the model a run's ``config.json`` describes.

    ``fresh``: a new model for training (pretrained backbone weights, the
    trained UNet read from its run folder). Otherwise the weights will come
    from a checkpoint of this run, which holds the UNet's too, so only the
    architectures are built and the UNet's folder need not exist any more.
    """
    train = TrainConfig.from_record(config["train"])
    unet = None
    if config["model"] in MASK_MODELS:
        unet = load_unet(config["unet"]["run"]) if fresh else UNet(**config["unet"]["architecture"])
    options = ({"global_pool": train.global_pool, "hidden": train.head_hidden}
               if config["model"] in GLOBAL_POOL_MODELS else {})
    return build_model(config["model"], backbone=train.backbone, unet=unet, mask_scale=train.mask_scale,
                       pretrained=train.pretrained and fresh, pretrained_file=train.weights if fresh else None,
                       **options)


def _fit(model, loaders, cfg: TrainConfig, epochs: int, out: Path, meta: dict, device: str, seed: int,
         resume: bool, stop_after: int | None = None, objective: Objective | None = None,
         prior: np.ndarray | None = None):
    """One training stage of ``model``'s trainable parameters, with its own optimizer and checkpoints.

    ``objective``: the model's own Task, whose parameters are trained and whose
    state is checkpointed beside the model's; by default the profile's loss,
    whose per-attribute alpha (``alpha='prior'``) comes from ``prior``.
    """
    if objective is None:
        loss = build_loss(cfg.loss, alpha=cfg.alpha, prior=prior).to(device)
        task, stateful = AttributeTask(loss), {"loss": loss}
    else:
        task, stateful = objective.to(device), {"task": objective}
        if torch.distributed.is_initialized():
            objective.average_gradients()
    named = chain(model.named_parameters(), objective.named_parameters() if objective else ())
    own_rate = cfg.backbone_lr != 1 or cfg.freeze_backbone_epochs  # else the parameter groups of earlier runs
    optimizer = build_optimizer(named, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.backbone_lr if own_rate else None)
    scheduler = build_schedule(optimizer, cfg.schedule, epochs, len(loaders[0]), cfg.warmup_epochs,
                               cfg.freeze_backbone_epochs)
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if torch.distributed.is_initialized() else model
    loop = LoopConfig(epochs=epochs, seed=seed, device=device, score="accuracy", stop_after=stop_after,
                      bf16=cfg.precision == "bf16", split="select")
    return fit(wrapped, task, *loaders, optimizer, scheduler, loop, out, stateful=stateful, meta=meta, resume=resume)


def _warm_start(model, loaders, cfg: TrainConfig, config: dict, out: Path, device: str, seed: int,
                prior: np.ndarray) -> None:
    """The paper's staged start (Sec. 4.2): the global branch first, then each group's modules, then joint.

    Stage 1 trains the backbone with the global head (the ``global`` model);
    its backbone is copied into ``model``. Stage 2 trains the group-specific
    modules (attention and heads) on the frozen backbone. Each stage keeps its
    own run folder under ``out``, so an interrupted start resumes too.
    """
    first = build_model("global", backbone=cfg.backbone, pretrained=cfg.pretrained, pretrained_file=cfg.weights,
                        global_pool=cfg.global_pool, hidden=cfg.head_hidden).to(device)
    stage = out / "stage1-global"
    _fit(first, loaders, cfg, cfg.stage_epochs, stage, {"config": config, "stage": 1}, device, seed,
         resume=(stage / "last.pt").exists(), prior=prior)
    first.load_state_dict(load_checkpoint(stage / "last.pt")["model"])
    missing = model.backbone.load_state_dict(first.backbone.state_dict(), strict=False).missing_keys
    if missing:
        raise MgmtnError(f"stage 1 backbone does not cover the model's ({len(missing)} tensors missing)")
    model.backbone.requires_grad_(False)
    stage = out / "stage2-groups"
    _fit(model, loaders, cfg, cfg.stage_epochs, stage, {"config": config, "stage": 2}, device, seed,
         resume=(stage / "last.pt").exists(), prior=prior)
    model.load_state_dict(load_checkpoint(stage / "last.pt")["model"])
    model.backbone.requires_grad_(True)


def _load_init(model: torch.nn.Module, init: Path, config: dict) -> None:
    """Start from the best weights of another run of the same architecture.

    The frozen UNet is not taken from ``init``: it stays the one this run's
    config names, so fine-tuning on new data can use masks learnt on that data.
    """
    state = load_checkpoint(init / "best.pt")
    source = state["meta"].get("config", {}) if isinstance(state.get("meta"), dict) else {}
    if "model" not in source:
        raise MgmtnError(f"{init}/best.pt: not an attribute model's checkpoint (a train-unet run?)")
    if (source["model"], source["train"]["backbone"]) != (config["model"], config["train"]["backbone"]):
        raise MgmtnError(f"{init}: a {source['model']} run on {source['train']['backbone']} cannot start a "
                         f"{config['model']} run on {config['train']['backbone']}")
    weights = {k: v for k, v in state["model"].items() if not k.startswith("unet.")}
    missing = [k for k in model.load_state_dict(weights, strict=False).missing_keys if not k.startswith("unet.")]
    if missing:
        raise MgmtnError(f"{init}/best.pt lacks {len(missing)} of this model's tensors (first: {missing[0]})")


def _load_backbone(model: torch.nn.Module, source: Path, config: dict) -> None:
    """Start the backbone from the best weights of another run on the same backbone (any model).

    The paper's stage 1 (Sec. 4.2): every variant of a study starts from one
    trained global branch, so that its rows differ only in what they add.
    """
    state = load_checkpoint(source / "best.pt")
    backbone = state["meta"]["config"]["train"]["backbone"]
    if backbone != config["train"]["backbone"] or not hasattr(model, "backbone"):
        raise MgmtnError(f"{source}: a run on {backbone} cannot start the backbone of a {config['model']} run "
                         f"on {config['train']['backbone']}")
    weights = {k.removeprefix("backbone."): v for k, v in state["model"].items() if k.startswith("backbone.")}
    missing = model.backbone.load_state_dict(weights, strict=False).missing_keys
    if missing:
        raise MgmtnError(f"{source}/best.pt lacks {len(missing)} backbone tensors (first: {missing[0]})")


def start_digest(run: Path) -> str:
    """sha256 of a finished run's ``best.pt``: which weights a staged or fine-tuned run started from.

    A folder name says where a start lived, not what it held: weights are not
    committed, so a start retrained in another session is another start.
    """
    path = Path(run) / "best.pt"
    if not path.exists():
        raise MgmtnError(f"{path}: no such checkpoint (weights are not committed: train that run first)")
    return hashlib.sha256(path.read_bytes()).hexdigest()


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: str) -> str:
    """'auto' is bf16 where ``device`` computes it natively (``engine.native_bf16``), else fp32.

    An explicit bf16 is kept, with a warning where it is emulated.
    """
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "bf16" and not native_bf16(device):
        warnings.warn(f"bf16 on this {device} is emulated (no AVX-512 BF16 or AMX) and runs an order of magnitude "
                      "slower than fp32; use --precision auto or fp32", stacklevel=3)
    return precision


# The backbones reduce by 32 at F5 and MGMTN's group masks act on F3-F5 (strides 8, 16, 32); below 32 px the
# F4 map is one cell and F5 rounds up to one, so masks and pooling lose every position.
MIN_IMAGE_SIZE = 32


def _check_start(run: Path, option: str) -> None:
    """A run to start from must be a finished ``mgmtn train`` run (checked before any data are read)."""
    config = Path(run) / "config.json"
    if not (Path(run) / "best.pt").is_file():
        raise MgmtnError(f"{run}/best.pt: checkpoint not found ({option} takes a finished mgmtn train run)")
    if not config.is_file() or "model" not in json.loads(config.read_text()):
        raise MgmtnError(f"{run}: not a run of mgmtn train ({option} takes an attribute model's run, "
                         "not a train-unet run)")


@writes_run
def train(data: Path, out: Path, model_name: str, profile: str = "smoke", unet: Path | None = None,
          device: str = "cpu", seed: int = 0, resume: bool = False, stop_after: int | None = None,
          init: Path | None = None, backbone_from: Path | None = None, **overrides) -> Path:
    """Train ``model_name`` on ``data`` into the run folder ``out``; returns ``out``.

    ``init``: a finished run of the same model whose best weights start this
    one (fine-tuning, e.g. a CelebA-trained model on LFWA). ``backbone_from``:
    a finished run of any model on the same backbone whose backbone starts
    this one (the ablations' shared stage 1). Both folders are recorded.
    """
    if init and backbone_from:
        raise MgmtnError("give either --init (the whole model) or --backbone-from (its backbone), not both")
    if model_name not in MODEL_NAMES:
        raise MgmtnError(f"unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if model_name in MASK_MODELS and unet is None:
        raise MgmtnError(f"model {model_name} needs a trained UNet: pass --unet RUN (from mgmtn train-unet)")
    cfg = replace(get_profile(profile).train, **{k: v for k, v in overrides.items() if v is not None})
    if cfg.precision not in PRECISIONS:
        raise MgmtnError(f"precision must be one of {', '.join(PRECISIONS)} (got {cfg.precision!r})")
    if cfg.epochs < 1 or cfg.image_size < 1:
        raise MgmtnError(f"epochs and image size must be at least 1 (got {cfg.epochs} and {cfg.image_size})")
    if cfg.image_size < MIN_IMAGE_SIZE:
        raise MgmtnError(f"image size {cfg.image_size} is below {MIN_IMAGE_SIZE} px: the backbone's F4/F5 maps "
                         "would be a single cell, leaving the group masks no positions (--image-size)")
    if stop_after is not None and stop_after < 1:
        raise MgmtnError(f"stop after must be at least 1 epoch (got {stop_after})")
    counts = (("batch size", cfg.batch_size), ("select images", cfg.select_images), ("limit", cfg.train_limit))
    small = [f"{name} {value}" for name, value in counts if value is not None and value < 1]
    if small:
        raise MgmtnError(f"{small[0]}: must be at least 1")
    for start, option in ((init, "--init"), (backbone_from, "--backbone-from")):
        if start:
            _check_start(start, option)
    out = Path(out)
    if resume != (out / "last.pt").exists():
        raise MgmtnError(f"{out}: nothing to resume (no last.pt)" if resume else
                         f"{out} already holds a run: pass --resume or choose another folder")
    unet_info = unet_record(unet) if model_name in MASK_MODELS else None  # a wrong --unet fails before any work
    device = setup_distributed(device)
    cfg = replace(cfg, precision=resolve_precision(cfg.precision, device))  # the run records what it used
    seed_everything(seed)
    index = read_index(data)
    rest, select_index = carve_selection(index.split("train"), cfg.select_images)
    train_index = rest.split(None, cfg.train_limit)
    images = resized_images(index, cfg.resize, progress=is_main()) if cfg.image_cache else None
    transform = TrainTransform(resize=cfg.resize, crop=cfg.image_size, max_angle=cfg.rotation,
                               p_rotate=cfg.augment_p, p_flip=cfg.augment_p)
    annotator = default_annotator(index) if model_name in LANDMARK_MODELS else None
    if annotator:
        annotate(data, annotator)
        train_set = LandmarkDataset(train_index, transform, load_boxes(data, annotator, index=train_index), seed,
                                    images=images)
    else:
        train_set = CelebADataset(train_index, transform=transform, seed=seed, images=images)
    select_set = CelebADataset(select_index, transform=eval_transform(cfg), images=images)
    loaders = (make_loader(train_set, cfg.batch_size, True, cfg.workers, seed),
               make_loader(select_set, cfg.batch_size, False, cfg.workers))
    prior = train_index.labels.mean(0)
    config = {"model": model_name, "profile": profile, "seed": seed, "train": asdict(cfg),
              "unet": unet_info, "data": index.describe(),
              "split": {"train": len(train_index), "select": len(select_index),
                        "select_identity_disjoint": index.identities is not None,
                        "select_sha256": ids_digest(select_index.ids)},
              "init": str(Path(init).resolve()) if init else None,
              "backbone_from": str(Path(backbone_from).resolve()) if backbone_from else None,
              "start_sha256": start_digest(init or backbone_from) if init or backbone_from else None,
              "weights_sha256": weights_digest(cfg.backbone, cfg.pretrained, cfg.weights)}
    if annotator:
        config["annotator"] = annotator  # whose keypoints gave the landmark targets
    model = model_from_config(config).to(device)
    objective = build_objective(model_name, model)
    # A balanced loss's constant best guess is 0.5, not the prior; a model without output layers keeps its own.
    config["starts_at_prior"] = bool(cfg.bias_init and not init and hasattr(model, "output_layers")
                                     and not (objective and objective.balanced))
    if init and not resume:
        _load_init(model, Path(init), config)
    elif config["starts_at_prior"]:
        start_at_prior(model, prior)
    if backbone_from and not resume:
        _load_backbone(model, Path(backbone_from), config)
    if is_main() and not resume:
        write_json(out / "config.json", config)
    if cfg.stage_epochs and isinstance(model, MGMTN) and model_name != "global":
        _warm_start(model, loaders, cfg, config, out, device, seed, prior)
    history = _fit(model, loaders, cfg, cfg.epochs, out, {"config": config}, device, seed, resume, stop_after,
                   objective, prior)
    if is_main() and len(history) == cfg.epochs:
        seconds = float((history["train_seconds"] + history["eval_seconds"]).sum())
        write_json(out / "train.json", record(device, config=config, wall_seconds=round(seconds, 1),
                                              final=history.iloc[-1].to_dict()))
        # The operating point travels with the run: chosen on the selection split, as evaluate chooses it.
        model.load_state_dict(load_checkpoint(out / "best.pt")["model"])
        targets, probs = predict_probs(model.eval(), loaders[1], device)
        operating_point.write(out, operating_point.choose(select_index.ids, targets, probs.astype(np.float16)
                                                          .astype(np.float32), rest.labels.mean(0)), device)
    return out


def load_run(run: Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The best-on-selection model of a run folder, in eval mode, and its config."""
    run = Path(run)
    state = load_checkpoint(run / "best.pt")
    config = state["meta"]["config"]
    model = model_from_config(config, fresh=False)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), config
