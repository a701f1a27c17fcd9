"""Training and inference throughput of MGMTN against the global baseline.

Both models use the same backbone, input size and batch; MGMTN also runs its
frozen UNet. Prints images per second for training steps (forward, EFL,
backward, Adam) and for inference, and the ratio global / MGMTN (how many
times slower the full model is). Weights are random: speed does not depend
on them. On a shared machine, raise ``--repeats``: the best run is reported.

    python benchmarks/bench_models.py --backbone resnet18 --size 128 --batch 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mgmtn.config import UNetConfig
from mgmtn.losses import build_loss
from mgmtn.models import UNet, build_model
from mgmtn.provenance import record, write_json


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(step, images: torch.Tensor, args: argparse.Namespace) -> float:
    """Images per second of ``step(images)``: the best of ``repeats`` timed runs after ``warmup`` calls.

    The best run is the one least disturbed by other work on the machine
    (the first calls also pay for one-off kernel and allocator set-up).
    """
    for _ in range(args.warmup):
        step(images)
    best = float("inf")
    for _ in range(args.repeats):
        _sync(images.device)
        start = time.perf_counter()
        for _ in range(args.steps):
            step(images)
        _sync(images.device)
        best = min(best, time.perf_counter() - start)
    return args.steps * len(images) / best


def measure(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    unet = UNet(base_width=args.unet_width, depth=args.unet_depth, input_size=args.unet_size)
    model = build_model(name, backbone=args.backbone, unet=unet).to(device)
    loss_fn = build_loss(args.loss).to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    targets = (torch.rand(args.batch, 40, device=device) < 0.3).float()

    def train_step(x):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x).logits, targets).backward()
        optimizer.step()

    @torch.inference_mode()
    def infer_step(x):
        model(x)

    model.train()
    train = _rate(train_step, images, args)
    model.eval()
    return {"train": train, "infer": _rate(infer_step, images, args)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=128, help="input side in pixels (paper: 227)")
    parser.add_argument("--batch", type=int, default=8, help="paper: 36")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--warmup", type=int, default=3)
    unet = UNetConfig()
    parser.add_argument("--unet-width", type=int, default=unet.base_width)
    parser.add_argument("--unet-depth", type=int, default=unet.depth)
    parser.add_argument("--unet-size", type=int, default=unet.input_size, help="UNet input side (profiles' default)")
    parser.add_argument("--out", default=None, help="also write the rates to this JSON file")
    parser.add_argument("--loss", default="efl")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    print(f"backbone {args.backbone}, {args.size} px, batch {args.batch}, {device}, "
          f"UNet at {args.unet_size} px, {torch.get_num_threads()} threads, "
          f"best of {args.repeats} x {args.steps} steps")
    rates = {name: measure(name, args, device) for name in ("global", "mgmtn")}
    print(f"{'model':8s} {'train img/s':>12s} {'infer img/s':>12s}")
    for name, rate in rates.items():
        print(f"{name:8s} {rate['train']:12.2f} {rate['infer']:12.2f}")
    ratios = [rates["global"][mode] / rates["mgmtn"][mode] for mode in ("train", "infer")]
    print(f"{'ratio':8s} {ratios[0]:11.2f}x {ratios[1]:11.2f}x   (global / mgmtn: times slower)")
    if args.out:
        write_json(Path(args.out), record(device, arguments=vars(args), images_per_s=rates,
                                          slowdown={"train": ratios[0], "infer": ratios[1]}))


if __name__ == "__main__":
    main()
