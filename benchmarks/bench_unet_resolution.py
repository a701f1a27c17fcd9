"""What the UNet's input resolution costs in mask F1 and buys in speed.

The paper feeds the UNet 227 x 227 images, but its masks end up on feature
maps of about 29 x 29 and 15 x 15 cells. This trains one UNet per input size
on the same images and epochs, then records the validation F1 (mean and per
group) and the training and inference images per second, into a results
file that the book reads:

    python benchmarks/bench_unet_resolution.py DATA --annotator dlib --sizes 48 64 96 128 \\
        --epochs 3 --limit 4000 --out results/unet_resolution_celeba-subset.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from mgmtn.models import UNet
from mgmtn.provenance import record, write_json
from mgmtn.train_unet import train_unet


def inference_rate(size: int, batch: int = 32, steps: int = 5) -> float:
    """Images per second of the UNet forward pass alone (random weights: speed does not depend on them)."""
    unet = UNet(input_size=size).eval()
    images = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        unet(images)
        start = time.perf_counter()
        for _ in range(steps):
            unet(images)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--annotator", default="synthetic")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96, 128])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="training images")
    parser.add_argument("--val-limit", type=int, default=1000)
    parser.add_argument("--out", required=True, help="results JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            result = train_unet(Path(args.data), Path(tmp) / str(size), annotator=args.annotator, input_size=size,
                                epochs=args.epochs, train_limit=args.limit, val_limit=args.val_limit)
            train_images = (args.limit or result["config"]["data"]["per_partition"]["train"]) * args.epochs
            rows.append({"input_size": size, "mean_f1": result["mean_f1"], "f1_per_group": result["f1_per_group"],
                         "train_wall_seconds": result["wall_seconds"],
                         "train_images_per_s_incl_eval": round(train_images / result["wall_seconds"], 1),
                         "inference_images_per_s": round(inference_rate(size), 1)})
            print(rows[-1], flush=True)
    write_json(Path(args.out), record(data=args.data, annotator=args.annotator, epochs=args.epochs,
                                      train_limit=args.limit, val_limit=args.val_limit, sizes=rows,
                                      torch_threads=torch.get_num_threads()))


if __name__ == "__main__":
    main()
