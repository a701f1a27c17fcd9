"""The ``paper`` profile on one GPU, end to end, as one command on a bare machine from the working tree.

On the GPU machine (torch and timm present; no dlib, jupytext or papermill;
no ImageNet weights, so the backbones start from random weights):

    python benchmarks/gpu_check.py --out results/gpu_check.json

and on any CPU, at tiny sizes, what CI runs so that the script cannot rot:

    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check.json

It generates synthetic faces, trains the UNet and then ``global`` and
``mgmtn`` in the ``paper`` profile for a bounded number of images (once with
plain ``python``, once more under ``torchrun --nproc_per_node 1``), scores
them, and measures: train and inference images/s of each model at batch 36 and
at the largest batch that fits, peak GPU memory, the data loader's wait as a
share of a training step, the MGMTN / global throughput ratio and the
projected wall time of the paper's full protocol (162,770 training images x
the profile's epochs, plus the UNet). Everything goes into one JSON file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))  # the working tree's package, installed or not

import torch  # noqa: E402

from mgmtn.config import get_profile  # noqa: E402
from mgmtn.data.celeba import read_index  # noqa: E402
from mgmtn.data.dataset import CelebADataset  # noqa: E402
from mgmtn.data.synth import generate  # noqa: E402
from mgmtn.data.transforms import TrainTransform  # noqa: E402
from mgmtn.engine import make_loader  # noqa: E402
from mgmtn.evaluate import evaluate  # noqa: E402
from mgmtn.losses import build_loss  # noqa: E402
from mgmtn.models import build_model  # noqa: E402
from mgmtn.optim import build_optimizer  # noqa: E402
from mgmtn.provenance import record, write_json  # noqa: E402
from mgmtn.train import train  # noqa: E402
from mgmtn.train_unet import load_unet, train_unet  # noqa: E402

CELEBA_TRAIN = 162_770  # images in CelebA's official train partition


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, device: torch.device, steps: int) -> float:
    """Seconds per call of ``step`` over ``steps`` calls, after two warm-up calls."""
    step(), step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def throughput(model, batch: int, size: int, device: torch.device, steps: int, channels_last: bool) -> dict:
    """Train and inference images/s of ``model`` at ``batch``, bf16 autocast, and the peak memory of training."""
    memory = torch.channels_last if channels_last else torch.contiguous_format
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory)
    targets = (torch.rand(batch, 40, device=device) < 0.3).float()
    loss_fn = build_loss("efl").to(device)
    optimizer = build_optimizer(model.named_parameters(), "adam", 1e-4, 5e-4)

    def train_step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_fn(model(images).logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.inference_mode()
    def infer_step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            model(images)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    train_rate = batch / timed(train_step, device, steps)
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None
    model.eval()
    return {"batch": batch, "train_images_per_s": train_rate,
            "infer_images_per_s": batch / timed(infer_step, device, steps), "peak_memory_gib": peak}


def largest_batch(build, size: int, device: torch.device, start: int, limit: int, steps: int,
                  channels_last: bool) -> dict | None:
    """Throughput at the largest batch (doubling from ``start``) whose training step fits in memory."""
    best, batch = None, start * 2
    while batch <= limit:
        try:
            best = throughput(build(), batch, size, device, steps, channels_last)
        except torch.OutOfMemoryError:
            break
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        batch *= 2
    return best


def loader_wait(model, dataset, batch: int, workers: int, device: torch.device, steps: int) -> dict:
    """Share of a training step spent waiting for the DataLoader (real decoding and augmentation)."""
    loader = make_loader(dataset, batch, True, workers)
    loss_fn = build_loss("efl").to(device)
    optimizer = build_optimizer(model.named_parameters(), "adam", 1e-4, 5e-4)
    model.train()
    waited = total = 0.0
    done = 0
    while done < steps:
        stream = iter(loader)
        while done < steps:
            start = time.perf_counter()
            try:
                item = next(stream)
            except StopIteration:
                break
            got = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = loss_fn(model(item["image"].to(device, non_blocking=True)).logits.float(),
                               item["labels"].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync(device)
            if done:  # the first batch also starts the workers
                waited, total = waited + got - start, total + time.perf_counter() - start
            done += 1
    return {"batch": batch, "workers": workers, "steps": steps, "wait_share": waited / total if total else None}


def torchrun_train(data: Path, out: Path, device: str, overrides: list[str]) -> dict:
    """The same training under ``torchrun --nproc_per_node 1``: the launcher path the paper's GPUs use."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "--master_port", "29561",
               "-m", "mgmtn.cli", "train", str(data), "--model", "global", "--profile", "paper", "--out", str(out),
               "--device", device, "--random-init", *overrides]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    return {"returncode": result.returncode, "seconds": round(time.perf_counter() - started, 1),
            "stderr_tail": result.stderr[-1500:] if result.returncode else ""}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: checks the script end to end")
    parser.add_argument("--out", required=True, help="JSON file for the figures")
    parser.add_argument("--images", type=int, default=None, help="synthetic faces (default 3000; dry run 60)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 20; dry 1)")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--work", default=None, help="folder for the data and runs (default: a temporary one)")
    args = parser.parse_args(argv)
    profile = get_profile("paper")
    dry = args.dry_run
    device = torch.device("cpu" if dry else "cuda")
    if not dry and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; use --dry-run on a CPU")
    images, steps = args.images or (60 if dry else 3000), args.steps or (1 if dry else 20)
    cfg, unet_cfg = profile.train, profile.unet
    size, unet_size = (32, 32) if dry else (cfg.image_size, unet_cfg.input_size)
    backbone = "tiny" if dry else cfg.backbone
    batch = 4 if dry else cfg.batch_size
    workers = 0 if dry else cfg.workers
    channels_last = not args.no_channels_last
    train_images = images * 8 // 10 - (16 if dry else 500)
    settings = {"device": str(device), "bf16_autocast": True, "channels_last": channels_last,
                "torch_compile": False, "backbone": backbone, "image_size": size, "unet_size": unet_size,
                "batch": batch, "workers": workers, "pretrained": False, "dry_run": dry}
    work = Path(args.work or tempfile.mkdtemp(prefix="gpu_check."))
    os.environ.setdefault("MGMTN_HOME", str(work / "home"))
    started = time.perf_counter()

    data = generate(work / "faces", n=images, seed=0, workers=1 if dry else 8, progress=False)
    unet_run = work / "unet"
    phase = time.perf_counter()
    train_unet(data, unet_run, profile="paper", annotator="synthetic", device=str(device), epochs=1,
               input_size=unet_size, workers=workers, **({"base_width": 4, "batch_size": 8} if dry else {}))
    unet_seconds = time.perf_counter() - phase
    overrides = dict(pretrained=False, epochs=1, stage_epochs=0, image_size=size, backbone=backbone,
                     batch_size=batch, workers=workers, select_images=16 if dry else 500,
                     train_limit=train_images)
    runs = {}
    for name in ("global", "mgmtn"):
        phase = time.perf_counter()
        run = train(data, work / name, name, profile="paper", unet=unet_run, device=str(device), **overrides)
        trained = time.perf_counter() - phase
        scores = evaluate(run, data, split="val", device=str(device))
        runs[name] = {"train_seconds": trained, "train_images": train_images, "val_accuracy": scores["accuracy"],
                      "val_mA": scores["mA"]}
    torchrun = torchrun_train(data, work / "global-torchrun", str(device),
                              ["--epochs", "1", "--image-size", str(size), "--backbone", backbone,
                               "--limit", str(train_images), "--select-images", str(overrides["select_images"]),
                               "--batch-size", str(batch), "--workers", str(workers)])

    unet = load_unet(unet_run).to(device)
    speed = {}
    for name in ("global", "mgmtn"):
        def build(name=name):
            model = build_model(name, backbone=backbone, unet=unet).to(device)
            return model.to(memory_format=torch.channels_last) if channels_last else model
        speed[name] = {"at_profile_batch": throughput(build(), batch, size, device, steps, channels_last),
                       "largest": largest_batch(build, size, device, batch, 64 if dry else 1024, steps,
                                                channels_last)}
    transform = TrainTransform(resize=round(size * cfg.resize_ratio), crop=size)
    dataset = CelebADataset(read_index(data).split("train"), transform=transform, seed=0)
    wait = loader_wait(build_model("mgmtn", backbone=backbone, unet=unet).to(device), dataset, batch, workers,
                       device, 3 if dry else 40)
    ratio = (speed["mgmtn"]["at_profile_batch"]["train_images_per_s"]
             / speed["global"]["at_profile_batch"]["train_images_per_s"])
    mgmtn_rate = speed["mgmtn"]["at_profile_batch"]["train_images_per_s"]
    unet_rate = len(dataset) / unet_seconds  # one epoch plus its evaluation: the projection errs long
    epochs = cfg.epochs + 2 * cfg.stage_epochs
    projection = {"unet_hours": unet_cfg.epochs * CELEBA_TRAIN / unet_rate / 3600,
                  "mgmtn_hours": epochs * CELEBA_TRAIN / mgmtn_rate / 3600,
                  "epochs": {"unet": unet_cfg.epochs, "mgmtn_joint": cfg.epochs, "staged": 2 * cfg.stage_epochs}}
    projection["total_hours"] = projection["unet_hours"] + projection["mgmtn_hours"]
    result = {"settings": settings, "runs": runs, "torchrun": torchrun, "throughput": speed,
              "mgmtn_over_global_train": ratio, "loader_wait": wait, "unet_train_images_per_s": unet_rate,
              "projection_full_celeba": projection,
              "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    write_json(Path(args.out), record(str(device), **result, wall_seconds=round(time.perf_counter() - started, 1)))
    print(f"gpu_check: MGMTN / global train throughput {ratio:.2f}; loader wait {wait['wait_share']:.1%} of a step; "
          f"full protocol about {projection['total_hours']:.1f} h; torchrun exit {torchrun['returncode']}; "
          f"-> {args.out}")
    if torchrun["returncode"]:
        raise SystemExit(f"gpu_check: the torchrun training failed:\n{torchrun['stderr_tail']}")


if __name__ == "__main__":
    main()
