"""Named profiles and where data and outputs live.

A profile fixes the scale of a run: ``smoke`` proves the code runs on a
CPU in minutes on synthetic faces, ``cpu`` is the real-data subset on a laptop
scale, ``cpu-pretrained`` the same from a face-pretrained backbone, ``paper`` is
the GPU protocol of the paper. Notebooks and the CLI take
a profile name, so one switch moves a whole book between scales.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from mgmtn.errors import MgmtnError


@dataclass(frozen=True)
class UNetConfig:
    """Stage 1 of AML: the 8-head UNet that predicts group masks."""

    input_size: int = 64  # the paper feeds 227 px; the masks end up on 29x29 and 15x15 cells
    base_width: int = 8
    depth: int = 4
    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-3
    dice_weight: float = 1.0  # added to the per-pixel BCE: without it thin masks (eyes, nose) collapse to empty
    train_limit: int | None = None
    val_limit: int | None = None
    workers: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """An attribute model's training run (Sec. 4.2 of the paper for the ``paper`` profile).

    The recipe fields (optimizer, schedule, loss, alpha, bias_init) default to
    what the paper states: Adam with L2 on every parameter, EFL with alpha
    0.25. The ``cpu`` profile takes what the recipe study (page 12) found to
    learn from scratch instead.
    """

    backbone: str = "tiny"
    pretrained: bool = False  # timm's ImageNet weights, downloaded or from timm's cache
    weights: str | None = None  # a local weights file for the backbone instead (works offline)
    image_size: int = 64  # random crop fed to the network
    resize_ratio: float = 256 / 227  # images are resized to image_size * this before the crop (paper: 256 -> 227)
    rotation: float = 15.0  # degrees, at most
    augment_p: float = 0.35  # probability of each of flip and rotation
    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 5e-4
    optimizer: str = "adam"  # 'adam': L2 on every parameter (the paper); 'adamw': decoupled, conv/linear weights only
    schedule: str = "epoch-cosine"  # see mgmtn.optim.SCHEDULES
    warmup_epochs: float = 0.0
    backbone_lr: float = 1.0  # the backbone's learning rate as a factor of ``lr`` (the heads'): < 1 when pretrained
    freeze_backbone_epochs: float = 0.0  # the backbone held (rate 0) for this many epochs first: the heads learn first
    loss: str = "efl"
    alpha: float | str | None = 0.25  # focal/EFL weight of positives; 'prior': 1 - the attribute's positive rate
    bias_init: bool = False  # start each attribute's logit at its label log-odds
    precision: str = "fp32"  # 'bf16': autocast; 'auto': bf16 where the hardware has it (CUDA, AVX-512 BF16, AMX)
    mask_scale: float = 1.0
    global_pool: str = "max"  # how the global feature G1 is pooled from F5: 'max' (the paper's, Fig. 8) or 'avg'
    head_hidden: int = 512  # width of the heads' hidden layer (Fig. 4); 0: one linear layer per head
    stage_epochs: int = 0  # paper: global branch, then group modules, this many epochs each before joint training
    image_cache: bool = True  # decode and resize every image once (mgmtn.data.image_cache)
    select_images: int = 2000  # carved from the train partition, identity-disjoint: chooses best.pt and thresholds
    train_limit: int | None = None
    workers: int = 0

    @property
    def resize(self) -> int:
        return round(self.image_size * self.resize_ratio)

    @classmethod
    def from_record(cls, record: dict) -> "TrainConfig":
        """The config a run recorded; fields of other versions are ignored and missing ones take defaults."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


# The recipe study's starting recipe (notebook 12, results/recipe-celeba-subset): a usual from-scratch recipe.
CPU_RECIPE = dict(optimizer="adamw", weight_decay=0.05, schedule="cosine", warmup_epochs=0.5, loss="bce",
                  alpha=None, bias_init=True, lr=2e-3)
# What the studies found to help on their selection split, one factor at a time: one linear layer per head and an
# average-pooled global feature (the paper's two-layer heads and max pooling learn slower from scratch), and the
# whole 178 px frame resized to the input size rather than a random 112 px crop of it at 126 px
# (results/crop-celeba-subset: the crop hides hair, ears, chin and collar).
# 8 epochs rather than 6: ahead on the selection split with both seeds tried (results/epochs-celeba-subset).
CPU_CHOICES = dict(head_hidden=0, global_pool="avg", resize_ratio=1.0, epochs=8)
# The scale of the studies of many small runs (the ablations, the comparison methods, LFWA): the first 3,000
# training images for 6 epochs, whatever the main runs adopt, so that rows of one table never change protocol.
# `make results-ablations` also pins their framing to the one their committed rows were made with.
CPU_ABLATION = dict(train_limit=3000, select_images=1000, epochs=6)
# The pretrained regime on the same CPUs: dlib's face ResNet (mgmtn.models.dlib_resnet, weights shipped in
# face-recognition-models) under the cpu recipe, at the 150 px it was trained on. Its stride-2 convs have no
# padding, so the input side sets the maps: F3 / F4 / F5 are 13 / 6 / 3 cells at 112 px, 17 / 8 / 4 at 150,
# 21 / 10 / 5 at 176 and 27 / 13 / 6 at 224 (ResNet18 at 112: 14 / 7 / 4). 150 px keeps F4 at 8 x 8 and gives
# F3 and F4 exactly the grids the network was trained on (a stride-2 block's conv and pooled shortcut agree in
# size only where its input side is odd: 35 and 17 at 150 px, 26 at 112, 42 at 176, 54 at 224).
# Framing: dlib's 150 px chip of a CelebA aligned face covers a square of about 108 px (104-112 on the subset's
# first 200 faces) centred 24 px below the frame's centre, so the whole frame shows the face at about 0.6 of the
# scale the network knows; the recipe study (mgmtn.recipes.PRETRAINED_ROWS) measures tighter framings.
# The backbone learns at a hundredth of the heads' rate (backbone_lr): the row the study chose on selection, from
# a start at a tenth (results/recipe-pretrained-celeba-subset). At the heads' own rate the port's features are
# lost in the first epoch and the model stays at the label priors.
CPU_PRETRAINED = dict(backbone="dlib-resnet29", pretrained=True, image_size=150, backbone_lr=0.01)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    synth_images: int  # synthetic faces generated when no data folder is given
    unet: UNetConfig = UNetConfig()
    train: TrainConfig = TrainConfig()
    synth_seed: int = 0
    ablation: dict = field(default_factory=dict)  # overrides of ``train`` for the ablation studies' many runs


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke", "synthetic faces, tiny models: proves the code runs on a CPU in minutes",
        synth_images=3000,
        unet=UNetConfig(input_size=48, epochs=4),
        train=TrainConfig(lr=1e-3, epochs=5, select_images=300),
        # The ablation pages' smoke runs show that the studies run, not what they find: a small scale.
        ablation=dict(train_limit=200, select_images=100, epochs=2)),
    "cpu": Profile(
        "cpu", "the real CelebA subset at low resolution on 2 CPUs",
        synth_images=6000,
        unet=UNetConfig(epochs=3),
        train=TrainConfig(backbone="resnet18", image_size=112, batch_size=64, precision="auto",
                          **CPU_RECIPE, **CPU_CHOICES),
        ablation=CPU_ABLATION),
    "cpu-pretrained": Profile(
        "cpu-pretrained", "the real CelebA subset on 2 CPUs, from dlib's face-recognition ResNet (shipped weights)",
        synth_images=6000,
        unet=UNetConfig(epochs=3),
        train=TrainConfig(batch_size=64, precision="auto", **{**CPU_RECIPE, **CPU_CHOICES, **CPU_PRETRAINED}),
        ablation=CPU_ABLATION),
    "paper": Profile(
        "paper", "the paper's protocol (ResNeSt50, 227 px, ImageNet weights) on a GPU",
        synth_images=20000,
        unet=UNetConfig(input_size=128, base_width=16, epochs=20, batch_size=64),
        train=TrainConfig(backbone="resnest50d", pretrained=True, image_size=227, epochs=30, stage_epochs=3,
                          batch_size=36, lr=1e-4, workers=8, precision="bf16", select_images=5000, image_cache=False,
                          schedule="cosine", warmup_epochs=0.5)),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise MgmtnError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout, for an editable install


def shared_data(name: str) -> Path | None:
    """``../shared/data/<name>`` beside the checkout, where real data may be provided; None if absent."""
    path = PROJECT_ROOT.parent / "shared" / "data" / name
    return path if path.is_dir() else None


def run_dir(output_dir: str | os.PathLike | None, name: str, profile: str, data: Path) -> Path:
    """A notebook's output folder: the one given, or one per (profile, dataset) under ``build/runs``."""
    if output_dir:
        return Path(output_dir)
    data = Path(data).resolve()
    key = hashlib.sha1(str(data).encode()).hexdigest()[:8]
    return PROJECT_ROOT / "build" / "runs" / f"{profile}-{data.name}-{key}" / name


def home() -> Path:
    """Root for generated data and caches: ``$MGMTN_HOME`` or ``~/.cache/mgmtn``."""
    return Path(os.environ.get("MGMTN_HOME", Path.home() / ".cache" / "mgmtn"))


def ensure_synthetic(n: int, seed: int = 0, root: Path | None = None, progress: bool = True) -> Path:
    """A synthetic dataset of ``n`` faces, generated once and reused while its parameters match.

    ``generate`` writes it to a temporary folder and renames it into place, so
    an interrupted generation is never mistaken for a finished one. Every
    CPU draws faces (the output is the same for any number of workers).
    """
    from mgmtn.data.synth import generate

    root = Path(root) if root is not None else home() / "data" / f"synthetic-n{n}-seed{seed}"
    marker = root / "synth.json"
    if marker.exists() and json.loads(marker.read_text()) == {"n": n, "seed": seed}:
        return root
    return generate(root, n=n, seed=seed, workers=os.cpu_count() or 1, progress=progress, force=True)


def resolve_data(data_root: str | os.PathLike | None, profile: str | Profile) -> Path:
    """The dataset folder to use: the given one, or the profile's synthetic faces."""
    if data_root:
        return Path(data_root).expanduser()
    profile = get_profile(profile) if isinstance(profile, str) else profile
    return ensure_synthetic(profile.synth_images, profile.synth_seed)
