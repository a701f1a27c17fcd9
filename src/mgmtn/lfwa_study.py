"""Page 11's study: LFWA imported once, its UNet chosen on its selection split, both protocols for each model.

Every step is skipped where its record exists: the committed runs keep their
scores but not their weights, so a fresh clone rebuilds the page from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mgmtn.config import get_profile
from mgmtn.data.celeba import CelebAIndex
from mgmtn.data.layout import IDENTITY_FILE
from mgmtn.data.lfwa import import_lfwa
from mgmtn.evaluate import evaluate
from mgmtn.masks import annotate
from mgmtn.train import train
from mgmtn.train_unet import choose_unet, chosen_on_selection, train_unet


def imported(release: Path, folder: Path, val_fraction: float, seed: int, align: bool) -> Path:
    """``release`` in the CelebA layout at ``folder``, imported unless done (an import without the identity
    file predates it and is redone)."""
    if not (Path(folder) / IDENTITY_FILE).exists():
        import_lfwa(release, folder, val_fraction=val_fraction, seed=seed, force=True, align=align)
    return Path(folder)


def scoring_split(index: CelebAIndex) -> tuple[str, str]:
    """LFWA's test partition where the release's test images are present, else the held-out training people."""
    if index.describe()["per_partition"]["test"]:
        return "test", "LFWA test"
    return "val", "held-out LFWA-train identities"


def saved_or(path: Path, split: str, compute: Callable[[], dict]) -> dict:
    """The score saved at ``path`` for ``split``, else ``compute()`` (which saves it there)."""
    saved = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    return saved if saved.get("split") == split else compute()


def lfwa_unet(lfwa: Path, out: Path, celeba_unet: Path, profile: str, device: str = "cpu", seed: int = 0
              ) -> tuple[str, Path, dict[str, dict]]:
    """The UNet that guides MGMTN on LFWA: the CelebA one or one trained on LFWA's training split (trained here
    unless it is, or its record says it chose its epoch on the selection split), whichever scores the better
    mean mask F1 on LFWA's selection split. Returns its name, its folder and both scores."""
    annotate(lfwa, "dlib", progress=False)
    trained = Path(out) / "unet-lfwa"
    if not ((trained / "unet.pt").exists() or chosen_on_selection(trained)):
        train_unet(lfwa, trained, profile=profile, annotator="dlib", device=device, seed=seed,
                   resume=(trained / "last.pt").exists())
    candidates = {"CelebA UNet": Path(celeba_unet), "LFWA UNet": trained}
    chosen, scores = choose_unet(candidates, lfwa, "dlib", get_profile(profile).train.select_images, out,
                                 device=device)
    return chosen, candidates[chosen], scores


@dataclass(frozen=True)
class Protocols:
    """How page 11 trains: the models, the protocols and their schedules (None: the profile's)."""

    models: tuple[str, ...] = ("global", "mgmtn")
    protocols: tuple[str, ...] = ("scratch", "finetune")
    start_epochs: int | None = None  # the CelebA starts trained for the fine-tunes
    scratch_epochs: int | None = None
    finetune_epochs: int | None = None
    finetune_lr_factor: float = 1.0


def run_protocols(lfwa: Path, out: Path, split: str, plan: Protocols, profile: str, celeba: Path, celeba_runs: Path,
                  celeba_run_name: str = "{model}", celeba_unet: Path | None = None, unet: Path | None = None,
                  device: str = "cpu", seed: int = 0) -> dict[tuple[str, str], dict]:
    """Train (unless finished) and score each model under each protocol on LFWA at the profile's study scale
    (``ablation``); a fine-tune starts from ``celeba_runs / celeba_run_name``, trained on ``celeba`` first
    where absent. Returns each (model, protocol)'s score on ``split``."""
    settings = get_profile(profile)
    scores = {}
    for model in plan.models:
        for protocol in plan.protocols:
            run = Path(out) / f"{model}-{protocol}"
            options = dict(settings.ablation)
            epochs = plan.scratch_epochs if protocol == "scratch" else plan.finetune_epochs
            if epochs:
                options["epochs"] = epochs
            if protocol == "finetune":
                start = Path(celeba_runs) / celeba_run_name.format(model=model)
                if not (start / "train.json").exists():
                    train(celeba, start, model, profile=profile, unet=celeba_unet, device=device, seed=seed,
                          resume=(start / "last.pt").exists(), epochs=plan.start_epochs or settings.train.epochs)
                options |= {"init": start, "lr": settings.train.lr * plan.finetune_lr_factor}
            if not (run / "train.json").exists():
                train(lfwa, run, model, profile=profile, unet=unet, device=device, seed=seed,
                      resume=(run / "last.pt").exists(), **options)
            scores[(model, protocol)] = saved_or(run / f"eval_{split}.json", split,
                                                 lambda: evaluate(run, lfwa, split=split, device=device))
    return scores
