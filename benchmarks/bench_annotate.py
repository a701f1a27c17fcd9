"""Images per second of the keypoint annotators, keypoints to boxes included, on one core.

    python benchmarks/bench_annotate.py DATA_FOLDER [--n 200] [--annotators dlib synthetic]

DATA_FOLDER is any CelebA-layout folder; an annotator it cannot serve (e.g.
``synthetic`` without exact keypoints) is reported and skipped. The rate is
per core: ``mgmtn.masks.annotate`` spreads detectors over all cores.
"""

from __future__ import annotations

import argparse
import time

from mgmtn.data.celeba import read_index
from mgmtn.errors import MgmtnError
from mgmtn.masks import get_annotator
from mgmtn.masks.cache import annotate_rows


def bench(root: str, name: str, n: int) -> str:
    index = read_index(root, limit=n)
    try:
        annotator = get_annotator(name, index=index)
    except MgmtnError as error:
        return f"{name:10s} skipped: {error}"
    start = time.perf_counter()
    _, found, _ = annotate_rows(annotator, index, range(len(index)))
    seconds = time.perf_counter() - start
    return (f"{name:10s} {len(index)} images in {seconds:6.2f} s = {len(index) / seconds:8.1f} images/s, "
            f"faces found {found.sum()}/{len(index)} ({found.mean():.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="CelebA-layout folder")
    parser.add_argument("--n", type=int, default=200, help="first N images of the folder (default 200)")
    parser.add_argument("--annotators", nargs="+", default=["dlib", "synthetic"])
    args = parser.parse_args()
    for name in args.annotators:
        print(bench(args.data, name, args.n), flush=True)


if __name__ == "__main__":
    main()
