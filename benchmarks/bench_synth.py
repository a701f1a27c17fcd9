"""Throughput of the synthetic face generator: ``python benchmarks/bench_synth.py [--n 500] [--workers 1]``.

Times ``generate`` end to end (drawing, JPEG encoding, label files) into a
temporary folder and prints images per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mgmtn.data.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(Path(tmp), n=args.n, seed=0, workers=args.workers, progress=False)
        seconds = time.perf_counter() - start
    print(f"{args.n} images, {args.workers} worker(s): {seconds:.2f} s, {args.n / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
