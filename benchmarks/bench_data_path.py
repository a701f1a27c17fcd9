"""Is an epoch bounded by the network or by JPEG decoding? The data path and the training step on a CPU.

Measured in one run, so that the ratios compare like with like on a noisy machine:

1. the data path alone (the training transform of the ``cpu`` profile): images/s
   decoding every JPEG from disk, and reading the resized-image cache;
2. one training step (forward, BCE, backward, AdamW) of ``global`` and ``mgmtn``
   at the profile's size and batch, in float32, bf16 autocast, and bf16 with
   channels_last, each fed three ways: one pre-made batch (the network alone),
   batches read from the cache, and batches decoded from disk.

The step with real loading should be within 15% of the pre-made one; the
speed-up over the old data path is disk + float32 against cache + the
precision the profile uses on this CPU (bf16 where it is native; a CPU that
emulates bf16 times float32 only). Weights and the UNet are random: speed does not
depend on them.

    python benchmarks/bench_data_path.py ../shared/data/celeba-subset --out results/bench_data_path.json
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import asdict
from pathlib import Path

import torch

from mgmtn.config import get_profile
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.image_cache import resized_images
from mgmtn.data.transforms import TrainTransform
from mgmtn.engine import make_loader, native_bf16
from mgmtn.losses import build_loss
from mgmtn.models import UNet, build_model
from mgmtn.optim import build_optimizer
from mgmtn.provenance import record, write_json
from mgmtn.train import resolve_precision

VARIANTS = {"fp32": (False, False), "bf16": (True, False), "bf16+channels_last": (True, True)}


def batches(index, cfg, images, batch: int):
    transform = TrainTransform(resize=cfg.resize, crop=cfg.image_size, max_angle=cfg.rotation,
                               p_rotate=cfg.augment_p, p_flip=cfg.augment_p)
    return make_loader(CelebADataset(index, transform=transform, images=images), batch, True, 0)


def forever(loader):
    while True:
        yield from loader


def data_rate(loader, steps: int) -> float:
    """Images/s of iterating ``steps`` batches of the loader, nothing else."""
    start, seen = time.perf_counter(), 0
    for batch in itertools.islice(loader, steps):
        seen += len(batch["image"])
    return seen / (time.perf_counter() - start)


def step_rate(name: str, cfg, feeds: dict, steps: int, repeats: int, bf16: bool,
              channels_last: bool) -> dict[str, float]:
    """Images/s of training steps of model ``name`` for each feed (a callable giving the next batch)."""
    torch.manual_seed(0)
    model = build_model(name, backbone=cfg.backbone, unet=UNet(**_unet_shape()), global_pool=cfg.global_pool,
                        hidden=cfg.head_hidden).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = build_loss("bce")
    optimizer = build_optimizer(model.named_parameters(), "adamw", 1e-3, 0.05)

    def step(batch):
        images = batch["image"].contiguous(memory_format=torch.channels_last) if channels_last else batch["image"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(images).logits.float(), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(feeds["pre-made"]())  # warm-up: one-off kernel and allocator set-up
    rates = dict.fromkeys(feeds, 0.0)
    for _ in range(repeats):  # feeds interleaved, best of each: the runs least disturbed by other work
        for feed_name, feed in feeds.items():
            start, seen = time.perf_counter(), 0
            for _ in range(steps):
                batch = feed()
                step(batch)
                seen += len(batch["image"])
            rates[feed_name] = max(rates[feed_name], seen / (time.perf_counter() - start))
    return rates


def _unet_shape() -> dict:
    unet = get_profile("cpu").unet
    return {"base_width": unet.base_width, "depth": unet.depth, "input_size": unet.input_size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="CelebA-layout folder (e.g. ../shared/data/celeba-subset)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best is kept")
    parser.add_argument("--data-batches", type=int, default=8, help="batches timed for the data path alone")
    parser.add_argument("--models", nargs="+", default=["global", "mgmtn"])
    parser.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    cfg = get_profile("cpu").train
    index = read_index(args.data)
    train = index.split("train")
    images = resized_images(index, cfg.resize)
    loaders = {"disk": batches(train, cfg, None, cfg.batch_size), "cache": batches(train, cfg, images, cfg.batch_size)}
    print(f"{torch.get_num_threads()} threads; {cfg.backbone} at {cfg.image_size} px, batch {cfg.batch_size}")
    data = {name: max(data_rate(loader, args.data_batches) for _ in range(args.repeats))
            for name, loader in loaders.items()}
    print("data path alone: " + ", ".join(f"{name} {rate:.0f} img/s" for name, rate in data.items()))
    streams = {name: forever(loader) for name, loader in loaders.items()}
    premade = next(iter(loaders["cache"]))
    feeds = {"pre-made": lambda: premade, "cache": lambda: next(streams["cache"]),
             "disk": lambda: next(streams["disk"])}
    precision = resolve_precision(cfg.precision, "cpu")
    variants = VARIANTS if native_bf16("cpu") else {"fp32": VARIANTS["fp32"]}
    if len(variants) < len(VARIANTS):
        print("this CPU emulates bf16 (no AVX-512 BF16 or AMX): only float32 is timed")
    steps = {}
    for name, (variant, (bf16, channels_last)) in itertools.product(args.models, variants.items()):
        steps[f"{name} {variant}"] = rates = step_rate(name, cfg, feeds, args.steps, args.repeats, bf16, channels_last)
        print(f"{name:7s} {variant:20s} " + "  ".join(f"{feed} {rate:6.1f} img/s" for feed, rate in rates.items())
              + f"   cache / pre-made {rates['cache'] / rates['pre-made']:.2f}")
    speedups = {name: steps[f"{name} {precision}"]["cache"] / steps[f"{name} fp32"]["disk"]
                for name in args.models}
    print("speed-up of a training step over disk + fp32: "
          + ", ".join(f"{name} {s:.2f}x" for name, s in speedups.items()))
    if args.out:
        write_json(Path(args.out), record("cpu", arguments=vars(args), profile_train=asdict(cfg),
                                          data_images_per_s=data, step_images_per_s=steps,
                                          speedup_over_disk_fp32=speedups, profile_precision=precision))


if __name__ == "__main__":
    main()
