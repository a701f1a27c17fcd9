"""Training and inference throughput of MGMTN against the global baseline, per backbone and precision.

Both models use the same backbone, input size and batch; MGMTN also runs its
frozen UNet. Prints images per second for training steps (forward, EFL,
backward, Adam) and for inference, and the ratio global / MGMTN (how many
times slower the full model is). Weights are random: speed does not depend
on them. On a shared machine, raise ``--repeats``: the best run is reported.
``--backbone`` (``NAME`` or ``NAME@SIZE``) and ``--precision`` repeat, so one
call measures e.g. dlib's face ResNet at its 150 px beside ResNet18 at 112,
in float32 and in bf16 autocast (emulated, and an order of magnitude slower,
on a CPU without AVX-512 BF16 or AMX):

    python benchmarks/bench_models.py --backbone resnet18 --size 128 --batch 8
    python benchmarks/bench_models.py --batch 64 --backbone resnet18@112 --backbone dlib-resnet29@150 \
        --precision fp32 --precision bf16 --out results/bench_models_dlib.json
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


def measure(name: str, backbone: str, size: int, bf16: bool, args: argparse.Namespace,
            device: torch.device) -> dict[str, float]:
    unet = UNet(base_width=args.unet_width, depth=args.unet_depth, input_size=args.unet_size)
    model = build_model(name, backbone=backbone, unet=unet).to(device)
    loss_fn = build_loss(args.loss).to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randn(args.batch, 3, size, size, device=device)
    targets = (torch.rand(args.batch, 40, device=device) < 0.3).float()

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def train_step(x):
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = model(x).logits
        loss_fn(logits.float(), targets).backward()
        optimizer.step()

    @torch.inference_mode()
    def infer_step(x):
        with autocast():
            model(x)

    model.train()
    train = _rate(train_step, images, args)
    model.eval()
    return {"train": train, "infer": _rate(infer_step, images, args)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", action="append", default=None,
                        help="NAME or NAME@SIZE (repeatable; default resnet18)")
    parser.add_argument("--size", type=int, default=128, help="input side in pixels where a backbone gives none "
                                                              "(paper: 227)")
    parser.add_argument("--precision", action="append", choices=("fp32", "bf16"), default=None,
                        help="repeatable; default fp32")
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
    configs = [(name, int(size or args.size)) for name, _, size in
               (spec.partition("@") for spec in args.backbone or ["resnet18"])]
    print(f"batch {args.batch}, {device}, UNet at {args.unet_size} px, {torch.get_num_threads()} threads, "
          f"best of {args.repeats} x {args.steps} steps")
    print(f"{'backbone':20s} {'px':>4s} {'precision':9s} {'model':8s} {'train img/s':>12s} {'infer img/s':>12s}")
    runs = []
    for backbone, size in configs:
        for precision in args.precision or ["fp32"]:
            torch.manual_seed(0)
            rates = {name: measure(name, backbone, size, precision == "bf16", args, device)
                     for name in ("global", "mgmtn")}
            for name, rate in rates.items():
                print(f"{backbone:20s} {size:4d} {precision:9s} {name:8s} {rate['train']:12.2f} {rate['infer']:12.2f}")
            slowdown = {mode: rates["global"][mode] / rates["mgmtn"][mode] for mode in ("train", "infer")}
            print(f"{'':36s}{'ratio':8s} {slowdown['train']:11.2f}x {slowdown['infer']:11.2f}x   "
                  "(global / mgmtn: times slower)")
            runs.append(dict(backbone=backbone, size=size, precision=precision, images_per_s=rates,
                             slowdown=slowdown))
    if args.out:
        write_json(Path(args.out), record(device, arguments=vars(args), runs=runs))


if __name__ == "__main__":
    main()
