"""Where the time of an MGMTN training step goes, beside a ``global`` step on the same backbone.

Both models are built as the ``cpu`` profile trains them (ResNet18 at 112 px, batch 64, its pooling and
heads, BCE, AdamW; MGMTN with a UNet of the profile's shape). One training step is cut into sections at
the tensors that pass between the model's parts: each part's output is detached, and each part's
backward runs on its own from the gradient of the part after it, so the sections add up to one step
and compute the same gradients:

    data        a batch from the image cache through the training transform (with DATA; else a pre-made batch)
    unet        the frozen UNet's masks (no gradient)
    backbone    forward and backward of the ResNet18
    fusion      masked max-pooling of the eight groups on F3 and F4, channel attention, the global pooling
    heads       the classifier heads
    loss        BCE forward and backward
    optimizer   AdamW step and zero_grad

Of mgmtn's fusion, ``attention`` is what the same fusion without attention (``aml-global`` on the same maps
and masks) does not spend, and ``pooling`` the rest. The un-cut step is timed too (``whole step``), to
show what the cuts cost. Models are interleaved and each section's median over ``--repeats`` steps is
kept, so machine noise hits both. Weights are random: speed does not depend on them.

    python benchmarks/bench_step_profile.py ../shared/data/celeba-subset --out results/bench_step_profile.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import torch

from bench_data_path import _unet_shape, batches, forever
from mgmtn.config import get_profile
from mgmtn.data.celeba import read_index
from mgmtn.data.image_cache import resized_images
from mgmtn.losses import build_loss
from mgmtn.models import UNet, build_model
from mgmtn.optim import build_optimizer
from mgmtn.provenance import record, write_json

MODELS = ("global", "mgmtn")
SECTIONS = ("data", "unet", "backbone forward", "fusion forward", "heads forward", "loss forward",
            "loss backward", "heads backward", "fusion backward", "backbone backward", "optimizer")


class Trainer:
    """A model of the ``cpu`` profile with its loss and optimizer, trained one step at a time."""

    def __init__(self, name: str, cfg, channels_last: bool = False):
        torch.manual_seed(0)
        self.model = build_model(name, backbone=cfg.backbone, unet=UNet(**_unet_shape()),
                                 global_pool=cfg.global_pool, hidden=cfg.head_hidden).train()
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss_fn = build_loss(cfg.loss)
        self.optimizer = build_optimizer(self.model.named_parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)

    def images(self, batch: dict) -> torch.Tensor:
        image = batch["image"]
        return image.contiguous(memory_format=torch.channels_last) if self.channels_last else image

    def step(self, batch: dict, bf16: bool) -> None:
        """One training step as the trainer runs it (``mgmtn.engine.fit``)."""
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = self.loss_fn(self.model(self.images(batch)).logits.float(), batch["labels"])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def _leaf(x):
    """``x`` (a tensor or a list of them) cut from its graph, as a leaf that collects its gradient."""
    return [t.detach().requires_grad_() for t in x] if isinstance(x, list) else x.detach().requires_grad_()


def _backward(outputs, leaf) -> None:
    outputs, leaf = (outputs, leaf) if isinstance(outputs, list) else ([outputs], [leaf])
    torch.autograd.backward(outputs, [t.grad for t in leaf])


def cut_step(trainer: Trainer, next_batch, bf16: bool, plain: torch.nn.Module | None = None) -> dict[str, float]:
    """Seconds of each section of one training step; ``plain``, if given, times its fusion on the same inputs."""
    times: dict[str, float] = {}

    @contextmanager
    def timed(name: str):
        start = time.perf_counter()
        yield
        times[name] = times.get(name, 0.0) + time.perf_counter() - start

    model = trainer.model
    with timed("data"):
        batch = next_batch()
    images = trainer.images(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        with timed("unet"):
            masks = model.predict_masks(images) if model.scales else None
        with timed("backbone forward"):
            features = model.backbone(images)
        maps = _leaf(features)
        with timed("fusion forward"):
            fused = model.fuse_features(maps, masks)[0]
        if plain is not None:
            plain_maps = _leaf(features)
            start = time.perf_counter()
            plain_fused = plain.fuse_features(plain_maps, masks)[0]
            times["pooling forward"] = time.perf_counter() - start
        group = _leaf(fused)
        with timed("heads forward"):
            logits = model.head(group if model.grouped else group[:, 0])
        scores = _leaf(logits)
        with timed("loss forward"):
            loss = trainer.loss_fn(scores.float(), batch["labels"])
    trainer.optimizer.zero_grad(set_to_none=True)
    with timed("loss backward"):
        loss.backward()
    with timed("heads backward"):
        _backward(logits, scores)
    with timed("fusion backward"):
        _backward(fused, group)
    if plain is not None:
        start = time.perf_counter()
        plain_fused.backward(group.grad)
        times["pooling backward"] = time.perf_counter() - start
    with timed("backbone backward"):
        _backward(features, maps)
    with timed("optimizer"):
        trainer.optimizer.step()
    return times


def whole_step(trainer: Trainer, next_batch, bf16: bool) -> float:
    start = time.perf_counter()
    trainer.step(next_batch(), bf16)
    return time.perf_counter() - start


def profile(trainers: dict[str, Trainer], plain, next_batch, bf16: bool, repeats: int) -> dict[str, dict]:
    """Median seconds of every section of each model, models interleaved, after one warm-up step each."""
    runs = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.step(next_batch(), bf16)
    for _ in range(repeats):
        for name, trainer in trainers.items():
            times = cut_step(trainer, next_batch, bf16, plain if name == "mgmtn" else None)
            times["whole step"] = whole_step(trainer, next_batch, bf16)
            runs[name].append(times)
    return {name: {key: statistics.median(run[key] for run in model_runs) for key in model_runs[0]}
            for name, model_runs in runs.items()}


def table(medians: dict[str, dict], batch_size: int) -> list[dict]:
    """Rows of milliseconds per section: global, mgmtn, their difference and its share of the whole gap."""
    g, m = medians["global"], medians["mgmtn"]
    m = {**m, "attention": m["fusion forward"] + m["fusion backward"] - m["pooling forward"] - m["pooling backward"]}
    names = [*SECTIONS, "sum of sections", "whole step"]
    for times in (g, m):
        times["sum of sections"] = sum(times[s] for s in SECTIONS)
    gap = m["whole step"] - g["whole step"]
    rows = []
    for name in names:
        a, b = g.get(name, 0.0), m.get(name, 0.0)
        rows.append({"section": name, "global_ms": round(1e3 * a, 1), "mgmtn_ms": round(1e3 * b, 1),
                     "extra_ms": round(1e3 * (b - a), 1), "share_of_gap": round((b - a) / gap, 3) if gap else None})
    for name in ("pooling forward", "pooling backward", "attention"):
        rows.append({"section": f"  of which {name}", "global_ms": None, "mgmtn_ms": round(1e3 * m[name], 1),
                     "extra_ms": round(1e3 * m[name], 1), "share_of_gap": round(m[name] / gap, 3) if gap else None})
    rows.append({"section": "images/s (whole step)", "global_ms": round(batch_size / g["whole step"], 1),
                 "mgmtn_ms": round(batch_size / m["whole step"], 1), "extra_ms": None,
                 "share_of_gap": round(g["whole step"] / m["whole step"], 3)})
    return rows


def show(rows: list[dict], title: str) -> None:
    print(f"\n{title}\n{'section':28s} {'global ms':>10s} {'mgmtn ms':>10s} {'extra ms':>10s} {'of gap':>7s}")
    fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
    for row in rows:
        print(f"{row['section']:28s} {fmt(row['global_ms'], '10.1f')} {fmt(row['mgmtn_ms'], '10.1f')} "
              f"{fmt(row['extra_ms'], '10.1f')} {fmt(row['share_of_gap'], '7.3f')}")
    print("(last row: images/s of each, and mgmtn / global)")


def feed(data: str | None, cfg):
    """A callable giving the next training batch: from the image cache of ``data`` through the training
    transform, or, without a folder, the same pre-made random batch every time."""
    if data:
        index = read_index(data)
        stream = forever(batches(index.split("train"), cfg, resized_images(index, cfg.resize), cfg.batch_size))
        return lambda: next(stream)
    torch.manual_seed(1)
    premade = {"image": torch.randn(cfg.batch_size, 3, cfg.image_size, cfg.image_size),
               "labels": (torch.rand(cfg.batch_size, 40) < 0.3).float()}
    return lambda: premade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="CelebA-layout folder; without it every step reuses one batch")
    parser.add_argument("--repeats", type=int, default=5, help="cut and whole steps per model; medians are kept")
    parser.add_argument("--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32"],
                        help="bf16: autocast (emulated, an order of magnitude slower, on a CPU without "
                             "AVX-512 BF16 or AMX)")
    parser.add_argument("--channels-last", action="store_true", help="both models and images in channels_last")
    parser.add_argument("--out", default=None, help="also write the table to this JSON file")
    args = parser.parse_args(argv)
    cfg = get_profile("cpu").train
    next_batch = feed(args.data, cfg)
    trainers = {name: Trainer(name, cfg, args.channels_last) for name in MODELS}
    mgmtn = trainers["mgmtn"].model
    plain = build_model("aml-global", backbone=cfg.backbone, unet=mgmtn.unet, global_pool=cfg.global_pool,
                        hidden=cfg.head_hidden).train()
    print(f"{torch.get_num_threads()} threads; {cfg.backbone} at {cfg.image_size} px, batch {cfg.batch_size}, "
          f"{'cache' if args.data else 'pre-made batch'}, median of {args.repeats} steps")
    tables = {}
    for precision in args.precision:
        medians = profile(trainers, plain, next_batch, precision == "bf16", args.repeats)
        tables[precision] = rows = table(medians, cfg.batch_size)
        show(rows, f"{precision}{' channels_last' if args.channels_last else ''}: milliseconds per training step")
    if args.out:
        write_json(Path(args.out), record("cpu", arguments=vars(args), profile_train=asdict(cfg),
                                          unet=_unet_shape(), feed="cache" if args.data else "pre-made",
                                          sections_ms=tables))


if __name__ == "__main__":
    main()
