"""The training loop every model of the book shares: epochs, checkpoints, resume, DDP.

A run folder holds ``last.pt`` (everything needed to continue: model,
optimizer, scheduler, loss state, RNG states), ``best.pt`` (the weights that
scored best on the selection split) and ``metrics.csv`` (one row per epoch). All three
are written atomically, so an interrupted run never leaves a broken file in
place of a good one, and ``resume=True`` continues exactly where the last
finished epoch left off.

Under ``torchrun`` the loop uses DistributedDataParallel with a distributed
sampler; every process evaluates, only rank 0 writes.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from contextlib import nullcontext
from fnmatch import fnmatch
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from mgmtn.data.layout import atomic_write
from mgmtn.errors import MgmtnError
from mgmtn.ownership import LOCK_FILE, folder_lock


class Task(Protocol):
    """What differs between training attribute models and the UNet."""

    def loss(self, model: torch.nn.Module, batch: dict) -> torch.Tensor: ...

    def evaluate(self, model: torch.nn.Module, loader: DataLoader) -> dict[str, float]: ...


@dataclass
class LoopConfig:
    epochs: int
    split: str  # the split that chooses best.pt (the selection split): the prefix of its columns in metrics.csv
    seed: int = 0
    device: str = "cpu"
    score: str = "accuracy"  # the metric on ``split`` that chooses best.pt (higher is better)
    stop_after: int | None = None  # finish this call after that many epochs; resume later
    bf16: bool = False  # autocast to bfloat16 on the CPU too (always on CUDA)


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def setup_distributed(device: str) -> str:
    """Join the process group when started by torchrun; returns the device of this process."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2 or dist.is_initialized():
        return device
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend)
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def native_bf16(device: str) -> bool:
    """Whether ``device`` computes bf16 in hardware: CUDA, or a CPU with AVX-512 BF16 or AMX.

    Elsewhere oneDNN emulates it, an order of magnitude slower than float32
    (a resnet18 step at 112 px, batch 64, on a 2-core AVX2 EPYC: 37 s against 2.7 s).
    """
    if torch.device(device).type == "cuda":
        return True
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    """Every generator's state as tensors and plain data, so that checkpoints load with ``weights_only``."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position,
                                                    has_gauss, gauss), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    name, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` (tensors and plain data only) atomically."""
    buffer = io.BytesIO()  # serialised first, so that a full disk reaches ``atomic_write`` as an OSError
    torch.save(payload, buffer)
    with atomic_write(path, "wb") as f:
        f.write(buffer.getbuffer())


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint with ``weights_only=True``: a file that holds other Python objects is refused.

    Unpickling arbitrary objects can run arbitrary code, and checkpoints are
    exchanged between people; the project's own checkpoints hold tensors and
    plain data only, so nothing legitimate is refused.
    """
    if not path.is_file():
        raise MgmtnError(f"{path}: checkpoint not found")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise MgmtnError(f"{path}: cannot read checkpoint (the file is empty)")
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save writes a zip archive (a pickle before 1.6)
        raise MgmtnError(f"{path}: cannot read checkpoint (not a file written by torch.save)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MgmtnError(f"{path}: refused, it holds Python objects beyond tensors and plain data, which could run "
                         f"code when loaded ({detail[:160]}); re-create it with this version of mgmtn") from None
    except Exception as error:  # a truncated or foreign file: say which one
        raise MgmtnError(f"{path}: cannot read checkpoint ({error})") from None


RUN_FILES = (LOCK_FILE, "config.json", "metrics.csv", "best.pt", "last.pt", "train.json", "operating_point.json",
             "unet.pt", "mask_f1*.json",
             "eval_*.json", "eval_*.csv", "eval_*.probs.npz", "positions*.json", "stage*", ".*.tmp")


def check_run_folder(out: Path) -> None:
    """Refuse to write a run into a folder that holds anything a run does not write (the user's own files)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MgmtnError(f"{out} is a file, not a run folder")
    foreign = sorted(p.name for p in out.iterdir() if not any(fnmatch(p.name, f) for f in RUN_FILES)) \
        if out.is_dir() else []
    if foreign:
        raise MgmtnError(f"{out} holds files that no run writes (first: {foreign[0]}); choose a new folder")


def writes_run(train_fn):
    """Run ``train_fn(data, out, ...)`` holding the lock of the run folder ``out`` (``mgmtn.ownership``).

    The folder is checked first (``check_run_folder``), so a second writer, a
    folder that cannot be written and a folder of the user's own files are all
    refused before any data are read, and the temporary files a killed writer
    left are removed. Under torchrun only rank 0 writes, so only rank 0 locks.
    """
    @functools.wraps(train_fn)
    def locked(data, out, *args, **kwargs):
        check_run_folder(out)
        lock = folder_lock(out, "run folder") if os.environ.get("RANK", "0") == "0" else nullcontext()
        with lock:
            for stale in Path(out).rglob(".*.pt.*.tmp"):  # checkpoints half-written by a writer that died
                stale.unlink()
            return train_fn(data, out, *args, **kwargs)
    return locked


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def make_loader(dataset, batch_size: int, shuffle: bool, workers: int, seed: int = 0) -> DataLoader:
    if dist.is_initialized() and shuffle:
        sampler = DistributedSampler(dataset, shuffle=True, seed=seed)
    elif shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = None
    # Workers are started anew each epoch (not persistent), so they see the dataset's current epoch
    # and draw that epoch's augmentations.
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=torch.cuda.is_available())


def _set_epoch(loader: DataLoader, epoch: int, seed: int) -> None:
    """Make the shuffle and the augmentations of ``epoch`` a function of (seed, epoch) alone."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)
    elif isinstance(loader.sampler, RandomSampler):
        loader.sampler.generator.manual_seed(seed * 1000 + epoch)
    if hasattr(loader.dataset, "set_epoch"):
        loader.dataset.set_epoch(epoch)


def fit(model: torch.nn.Module, task: Task, train_loader: DataLoader, select_loader: DataLoader,
        optimizer: torch.optim.Optimizer, scheduler, config: LoopConfig, out: Path,
        stateful: dict[str, object] | None = None, meta: dict | None = None, resume: bool = False,
        report: dict[str, DataLoader] | None = None) -> pd.DataFrame:
    """Train for ``config.epochs`` epochs, checkpointing after each; returns the per-epoch metrics.

    ``select_loader`` holds the split ``config.split`` whose ``config.score``
    chooses ``best.pt``. ``report``: other splits scored each epoch after the
    choice is made, recorded beside it (``val_mean_f1``) but never choosing.
    ``stateful`` holds extra objects with ``state_dict``/``load_state_dict``
    (the loss, for Equalized Focal Loss statistics) that must survive a resume.
    """
    out = Path(out)
    stateful = stateful or {}
    device = torch.device(config.device)
    history: list[dict] = []
    best, start = -float("inf"), 0
    if resume and (out / "last.pt").exists():
        state = load_checkpoint(out / "last.pt")
        if state["meta"] != (meta or {}):
            raise MgmtnError(f"{out} holds a run with another configuration; use a new output folder "
                             "or delete the old run")
        _unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        for name, obj in stateful.items():
            obj.load_state_dict(state["stateful"][name])
        _set_rng_state(state["rng"])
        history, best, start = state["history"], state["best"], state["epoch"] + 1
    elif resume:
        raise MgmtnError(f"{out}: nothing to resume (no last.pt)")
    elif (out / "last.pt").exists():
        raise MgmtnError(f"{out} already holds a run: resume it or choose another folder")
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
    use_bf16 = device.type == "cuda" or config.bf16
    stop_at = config.epochs if config.stop_after is None else min(config.epochs, start + config.stop_after)
    for epoch in range(start, stop_at):
        _set_epoch(train_loader, epoch, config.seed)
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        started, total, seen = time.perf_counter(), 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch",
                   disable=not is_main(), leave=False)
        for batch in bar:
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = task.loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()  # schedules are per step (mgmtn.optim)
            size = len(batch["image"])
            total, seen = total + loss.item() * size, seen + size
            bar.set_postfix(loss=f"{total / seen:.4f}")
        train_seconds = time.perf_counter() - started
        model.eval()
        metrics = task.evaluate(model, select_loader)
        improved = metrics[config.score] > best
        best = max(best, metrics[config.score])
        reported = {f"{name}_{k}": v for name, loader in (report or {}).items()
                    for k, v in task.evaluate(model, loader).items()}
        row = {"epoch": epoch + 1, "train_loss": total / max(seen, 1), "train_seconds": round(train_seconds, 2),
               "eval_seconds": round(time.perf_counter() - started - train_seconds, 2),
               "lr": lr, **{f"{config.split}_{k}": v for k, v in metrics.items()}, **reported}
        history.append(row)
        if is_main():
            _write_epoch(out, model, optimizer, scheduler, stateful, history, best, epoch, improved, meta or {})
            tqdm.write(f"epoch {epoch + 1}/{config.epochs}: " +
                       ", ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float)))
    if dist.is_initialized():
        dist.barrier()  # other ranks may read what rank 0 just wrote
    return pd.DataFrame(history)


def _write_epoch(out, model, optimizer, scheduler, stateful, history, best, epoch, improved, meta) -> None:
    weights = _unwrap(model).state_dict()
    if improved:
        save_checkpoint(out / "best.pt", {"model": weights, "epoch": epoch, "meta": meta,
                                          "stateful": {k: v.state_dict() for k, v in stateful.items()}})
    save_checkpoint(out / "last.pt", {
        "model": weights, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "stateful": {k: v.state_dict() for k, v in stateful.items()}, "rng": _rng_state(),
        "history": history, "best": best, "epoch": epoch, "meta": meta})
    with atomic_write(out / "metrics.csv") as f:
        pd.DataFrame(history).to_csv(f, index=False)
