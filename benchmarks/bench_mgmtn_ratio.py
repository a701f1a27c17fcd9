"""MGMTN's training images/s as a ratio of ``global``'s, in float32 and bf16, measured in one run.

Both models are built as the ``cpu`` profile trains them (``bench_step_profile.Trainer``: ResNet18 at
112 px, batch 64) and fed the same batches (from the image cache with DATA, else one pre-made batch).
After one warm-up step each, the two models' timed repeats alternate, so noise on a shared machine hits
both; the best repeat of each is kept. On a CPU without AVX-512 BF16 or AMX, bf16 is emulated (an
order of magnitude slower): its ratio is then one of emulated kernels, it runs ``--bf16-repeats``
single steps, and the record says so (``hardware``: the CPU's flags). About 5 minutes on 2 AVX2 cores.

    python benchmarks/bench_mgmtn_ratio.py --out results/bench_mgmtn_ratio.json
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import torch

from bench_data_path import _unet_shape
from bench_step_profile import MODELS, Trainer, feed
from mgmtn.config import get_profile
from mgmtn.engine import native_bf16
from mgmtn.provenance import record, write_json


def timed_run(trainer: Trainer, next_batch, bf16: bool, steps: int) -> float:
    """Images/s of ``steps`` training steps."""
    start, seen = time.perf_counter(), 0
    for _ in range(steps):
        batch = next_batch()
        trainer.step(batch, bf16)
        seen += len(batch["image"])
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", help="CelebA-layout folder; without it every step reuses one batch")
    parser.add_argument("--steps", type=int, default=3, help="float32 steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=3, help="float32 repeats of each model; the best is kept")
    parser.add_argument("--bf16-repeats", type=int, default=2, help="bf16 repeats (one step each where emulated)")
    parser.add_argument("--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"])
    parser.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    cfg = get_profile("cpu").train
    next_batch = feed(args.data, cfg)
    emulated = not native_bf16("cpu")
    print(f"{torch.get_num_threads()} threads; {cfg.backbone} at {cfg.image_size} px, batch {cfg.batch_size}, "
          f"{'cache' if args.data else 'pre-made batch'}; bf16 {'emulated' if emulated else 'native'}")
    trainers = {name: Trainer(name, cfg) for name in MODELS}
    results = {}
    for precision in args.precision:
        bf16 = precision == "bf16"
        steps, repeats = (1 if emulated else args.steps, args.bf16_repeats) if bf16 else (args.steps, args.repeats)
        for trainer in trainers.values():
            trainer.step(next_batch(), bf16)
        runs = {name: [] for name in trainers}
        for _ in range(repeats):
            for name, trainer in trainers.items():
                runs[name].append(timed_run(trainer, next_batch, bf16, steps))
        best = {name: max(rates) for name, rates in runs.items()}
        results[precision] = {"images_per_s": best, "runs": runs, "steps": steps, "repeats": repeats,
                              "ratio": best["mgmtn"] / best["global"], "emulated": bf16 and emulated}
        print(f"{precision}: global {best['global']:.1f} img/s, mgmtn {best['mgmtn']:.1f} img/s, "
              f"mgmtn / global {results[precision]['ratio']:.2f}" + (" (emulated bf16)" if bf16 and emulated else ""))
    if args.out:
        write_json(Path(args.out), record("cpu", arguments=vars(args), profile_train=asdict(cfg), unet=_unet_shape(),
                                          feed="cache" if args.data else "pre-made", bf16_emulated=emulated,
                                          results=results))


if __name__ == "__main__":
    main()
