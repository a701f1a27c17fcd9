"""``mgmtn <verb>``: the command line of the book.

Each verb is a thin wrapper over a package function. Errors caused by the
user's input (``MgmtnError``) print one line and exit with status 2; they never
show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mgmtn.errors import MgmtnError


def _synth(args) -> None:
    from mgmtn.data.synth import generate

    root = generate(Path(args.out), n=args.n, seed=args.seed, label_noise=args.label_noise,
                    workers=args.workers)
    print(f"wrote {args.n} synthetic faces to {root}")


def _check(args) -> None:
    import pandas as pd

    from mgmtn.attributes import ATTRIBUTES
    from mgmtn.data.celeba import load_image, read_index

    index = read_index(args.data)
    counts = index.describe()["per_partition"]
    print(f"{index.root}: {len(index)} images ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    print(f"landmarks: {'yes' if index.landmarks is not None else 'no'}, "
          f"exact keypoints: {'yes' if index.keypoints is not None else 'no'}")
    if args.decode:
        from tqdm import tqdm
        for i in tqdm(range(len(index)), desc="decoding", unit="img"):
            load_image(index.image_path(i))
        print("every image decodes")
    rates = pd.Series(index.labels.mean(0), index=ATTRIBUTES, name="positive rate")
    with pd.option_context("display.max_rows", 50):
        print(rates.map("{:.3f}".format).to_string())


def _book(args) -> None:
    from mgmtn.book import build

    page = build(Path(args.project), profile=args.profile, data_root=args.data_root, device=args.device,
                 force=args.force, html=not args.no_html)
    print(f"book: {page}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgmtn", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    synth = verbs.add_parser("synth", help="write procedural faces in the CelebA layout")
    synth.add_argument("out", help="output folder")
    synth.add_argument("--n", type=int, default=2000, help="number of faces (default 2000)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--label-noise", type=float, default=0.0,
                       help="probability of flipping each stored label (default 0)")
    synth.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    synth.set_defaults(run=_synth)

    check = verbs.add_parser("check", help="validate a CelebA-layout folder and print its statistics")
    check.add_argument("data", help="dataset folder")
    check.add_argument("--decode", action="store_true", help="also decode every image (slow)")
    check.set_defaults(run=_check)

    book = verbs.add_parser("book", help="execute the notebooks and build the HTML book")
    book.add_argument("--profile", default="smoke", help="smoke | cpu | paper (default smoke)")
    book.add_argument("--data-root", default=None, help="dataset folder (default: synthetic faces)")
    book.add_argument("--device", default="cpu")
    book.add_argument("--project", default=".", help="project folder (default .)")
    book.add_argument("--force", action="store_true", help="re-execute notebooks even when cached")
    book.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    book.set_defaults(run=_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MgmtnError as error:
        print(f"mgmtn {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mgmtn {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
