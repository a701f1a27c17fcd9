"""``mgmtn <verb>``: the command line of the book.

Each verb is a thin wrapper over a package function. Errors caused by the
user's input (``MgmtnError``) print one line and exit with status 2; they never
show a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from mgmtn.config import PROFILES
from mgmtn.errors import MgmtnError


def at_least(low: int):
    """An argparse type: an integer of at least ``low``, refused in the parser with the argument's name."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {value})")
        return value
    return parse


def positive_ratio(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0 (got {text})")
    return value


def non_negative(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value


def device(text: str) -> str:
    """An argparse type: a device torch knows and this machine has (checked before any work)."""
    if text == "cpu":
        return text
    import torch

    try:
        parsed = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (cpu, cuda, cuda:N, mps)") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: no CUDA GPU is available on this machine")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA devices")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: MPS is not available on this machine")
    if parsed.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r} (cpu, cuda, cuda:N, mps)")
    return text


POSITIVE = at_least(1)


def _synth(args) -> None:
    from mgmtn.data.synth import generate

    try:
        root = generate(Path(args.out), n=args.n, seed=args.seed, label_noise=args.label_noise,
                        workers=args.workers, force=args.force)
    except ValueError as error:  # argument checks of the generator
        raise MgmtnError(str(error)) from None
    print(f"wrote {args.n} synthetic faces to {root}")


def _annotate(args) -> None:
    from mgmtn.masks.cache import annotate

    print(annotate(Path(args.data), args.annotator, workers=args.workers, resume=not args.restart))


def _train_unet(args) -> None:

    from mgmtn.config import resolve_data
    from mgmtn.train_unet import train_unet

    result = train_unet(resolve_data(args.data, args.profile), Path(args.out), profile=args.profile,
                        annotator=args.annotator, device=args.device, seed=args.seed, resume=args.resume,
                        epochs=args.epochs, input_size=args.input_size, train_limit=args.limit)
    print(json.dumps({"mean_f1": result["mean_f1"], "f1_per_group": result["f1_per_group"]}, indent=2))


def _train(args) -> None:
    from mgmtn.config import resolve_data
    from mgmtn.models import MASK_MODELS
    from mgmtn.train import train

    if args.unet and args.model not in MASK_MODELS:
        raise MgmtnError(f"--unet: model {args.model} uses no masks (mask-guided: {', '.join(MASK_MODELS)})")

    out = train(resolve_data(args.data, args.profile), Path(args.out), args.model, profile=args.profile,
                unet=Path(args.unet) if args.unet else None, device=args.device, seed=args.seed,
                resume=args.resume, stop_after=args.stop_after, epochs=args.epochs, backbone=args.backbone,
                image_size=args.image_size, train_limit=args.limit, select_images=args.select_images, loss=args.loss,
                weights=args.weights, mask_scale=args.mask_scale, init=Path(args.init) if args.init else None,
                backbone_from=Path(args.backbone_from) if args.backbone_from else None,
                pretrained=False if args.random_init else None, batch_size=args.batch_size, workers=args.workers,
                precision=args.precision, resize_ratio=args.resize_ratio, backbone_lr=args.backbone_lr,
                freeze_backbone_epochs=args.freeze_backbone_epochs)
    print(f"run: {out}")


def _ablate(args) -> None:
    from mgmtn.ablations import run_study, study_runs, study_table
    from mgmtn.config import resolve_data

    runs = study_runs(args.study or ["components", "mask-scale", "fusion"], seeds=tuple(args.seeds or ()))
    run_study(runs, resolve_data(args.data, args.profile), Path(args.out), args.profile,
              Path(args.unet) if args.unet else None, device=args.device, epochs=args.epochs,
              stage1=args.stage1,
              train_limit=args.limit, select_images=args.select_images, resize_ratio=args.resize_ratio)
    print(study_table(runs, Path(args.out)).round(2).to_string(index=False))


def _recipes(args) -> None:
    from mgmtn.recipes import recipe_table, run_recipes

    run_recipes(Path(args.data), Path(args.out), rows=args.row, device=args.device, study=args.study)
    print(recipe_table(Path(args.out), args.row, args.study).round(2).to_string(index=False))


def _positions(args) -> None:
    from mgmtn.positions import activation_positions

    result = activation_positions(Path(args.run), Path(args.data), args.annotator, split=args.split,
                                  limit=args.limit, device=args.device)
    print(json.dumps({"model": result["model"], "level": result["level"], "inside": result["inside"]}, indent=2))


def _evaluate(args) -> None:
    from mgmtn.evaluate import evaluate

    result = evaluate(Path(args.run), Path(args.data), split=args.split, out=args.out, device=args.device,
                      limit=args.limit, force=args.force)
    print(f"{args.split}: accuracy {result['accuracy']:.4f}, mA {result['mA']:.4f} at 0.5 ({result['images']} images)")
    for key, where in (("at_run_point", "the run's operating point"), ("tuned_on_select", "chosen on this selection")):
        if key in result:
            print(f"{args.split}: accuracy {result[key]['accuracy']:.4f}, mA {result[key]['mA']:.4f} at {where} "
                  f"({result[key]['rule']})")


def _rescore(args) -> None:
    from mgmtn.data.celeba import read_index
    from mgmtn.evaluate import rescore

    index = read_index(Path(args.data))
    for path in args.evaluations:
        result = rescore(Path(path), index)
        chosen = result.get("tuned_on_select", {})
        print(f"{path}: accuracy {result['accuracy']:.4f}, mA {result['mA']:.4f} at 0.5"
              + (f"; {chosen['accuracy']:.4f} / {chosen['mA']:.4f} at {chosen['rule']}" if chosen else ""))


def _predict(args) -> None:
    import pandas as pd

    from mgmtn.attributes import ATTRIBUTES
    from mgmtn.evaluate import predict

    table, failed = predict(Path(args.run), [Path(p) for p in args.images], device=args.device,
                            overlay_dir=Path(args.overlay) if args.overlay else None, align=args.align)
    point = table.attrs.get("operating_point", {"rule": "threshold 0.5", "thresholds": dict.fromkeys(ATTRIBUTES, 0.5)})
    yes = table[list(ATTRIBUTES)] >= pd.Series(point["thresholds"])[list(ATTRIBUTES)]
    if args.json:
        print(table.assign(yes=yes.apply(lambda row: [a for a in ATTRIBUTES if row[a]], axis=1))
              .to_json(orient="records", indent=2))
    elif not table.empty:  # one column per face: its box, then yes/no at the run's point and each probability
        several = table["image"].duplicated(keep=False)
        names = [Path(image).name + (f"#{k}" if many else "")
                 for image, k, many in zip(table["image"], table["face"], several)]
        box = table[["x0", "y0", "x1", "y1"]].astype(int).astype(str).agg(",".join, axis=1)
        view = yes.map({True: "yes", False: "no"}.get) + " " + table[list(ATTRIBUTES)].map("{:.3f}".format)
        view.insert(0, "box", box)
        print(f"yes/no at {point['rule']}")
        print(view.set_axis(names).T.to_string())
    if failed:
        raise MgmtnError(f"{len(failed)} of {len(args.images)} images gave no prediction: "
                         + "; ".join(failed.values()))


def _align_effect(args) -> None:
    from mgmtn.align_eval import alignment_effect

    result = alignment_effect(Path(args.run), Path(args.data), Path(args.out), device=args.device, limit=args.limit)
    for mode, scores in result["modes"].items():
        print(f"--align {mode}: accuracy {scores['accuracy']:.4f}, mA {scores['mA']:.4f} at 0.5 "
              f"({scores['faces_missed']} images without a face found, {scores['align_ms_per_image']} ms/image)")
    print(f"{result['images']} images; written to {args.out}")


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

        from mgmtn.data.layout import atomic_write
        from mgmtn.errors import DataError
        bad = []
        for i in tqdm(range(len(index)), desc="decoding", unit="img"):
            try:
                load_image(index.image_path(i))
            except DataError as error:
                bad.append(str(error))
        if bad:
            from mgmtn.config import home
            report = home() / "reports" / f"{index.root.name}-bad-images.txt"
            with atomic_write(report) as f:
                f.writelines(line + "\n" for line in bad)
            raise MgmtnError(f"{len(bad)} of {len(index)} images do not decode (first: {bad[0]}); "
                             f"the full list is in {report}")
        print("every image decodes")
    rates = pd.Series(index.labels.mean(0), index=ATTRIBUTES, name="positive rate")
    with pd.option_context("display.max_rows", 50):
        print(rates.map("{:.3f}".format).to_string())


def _import_lfwa(args) -> None:
    from mgmtn.data.lfwa import SUMMARY_FILE, import_lfwa

    summary = import_lfwa(Path(args.src), Path(args.out), val_fraction=args.val_fraction, seed=args.seed,
                          link=not args.copy, force=args.force, align=args.align)
    counts = ", ".join(f"{k} {v}" for k, v in summary["images"].items())
    written = (f"{summary['aligned']['faces']} aligned, {summary['aligned']['missed']} without a face copied as "
               "they are" if summary["aligned"] else f"{summary['linked']} linked, {summary['copied']} copied")
    print(f"{summary['out']}: {sum(summary['images'].values())} images ({counts}), {written}")
    print(f"val: {summary['val_identities']['drawn']} of {summary['val_identities']['of_train_identities']} "
          f"LFWA train identities (val fraction {summary['val_fraction']}, seed {summary['seed']})")
    missing = summary["missing"]
    print(f"missing: {missing['count']} images of the release not found, skipped"
          + (f" (first: {', '.join(missing['first'][:3])})" if missing["count"] else ""))
    print(f"summary: {Path(summary['out']) / SUMMARY_FILE}")


def _book(args) -> None:
    from mgmtn.book import build

    page = build(Path(args.project), profile=args.profile, data_root=args.data_root, device=args.device,
                 force=args.force, html=not args.no_html)
    print(f"book: {page}")


def _run_options(parser: argparse.ArgumentParser, handler) -> None:
    """Options every training verb shares."""
    parser.add_argument("--profile", default="smoke", help=f"{' | '.join(PROFILES)} (default smoke)")
    parser.add_argument("--epochs", type=POSITIVE, default=None, help="(default: profile)")
    parser.add_argument("--limit", type=POSITIVE, default=None, help="use only the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", type=device, default="cpu")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    parser.set_defaults(handler=handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mgmtn", description="The command line of the MGMTN reproducibility book.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    synth = verbs.add_parser("synth", help="write procedural faces in the CelebA layout")
    synth.add_argument("out", help="output folder")
    synth.add_argument("--n", type=POSITIVE, default=2000, help="number of faces (default 2000)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--label-noise", type=float, default=0.0,
                       help="probability of flipping each stored label (default 0)")
    synth.add_argument("--workers", type=POSITIVE, default=1, help="processes (default 1)")
    synth.add_argument("--force", action="store_true", help="replace an earlier output of mgmtn synth in OUT")
    synth.set_defaults(handler=_synth)

    check = verbs.add_parser("check", help="validate a CelebA-layout folder and print its statistics")
    check.add_argument("data", help="dataset folder")
    check.add_argument("--decode", action="store_true", help="also decode every image (slow)")
    check.set_defaults(handler=_check)

    lfwa = verbs.add_parser("import-lfwa", help="convert the LFWA release into a CelebA-layout folder")
    lfwa.add_argument("src", help="folder with lfw_att_40*.mat, indices_train_test.mat and lfw*/ images")
    lfwa.add_argument("out", help="output folder (built beside it, then renamed into place)")
    lfwa.add_argument("--val-fraction", type=float, default=0.1,
                      help="share of LFWA train identities moved to partition 1, val (default 0.1)")
    lfwa.add_argument("--seed", type=int, default=0, help="seed of the val identity draw (default 0)")
    lfwa.add_argument("--copy", action="store_true", help="copy images instead of symlinking them")
    lfwa.add_argument("--align", action="store_true",
                      help="write each image's central face in CelebA's aligned frame (dlib) instead of the frame")
    lfwa.add_argument("--force", action="store_true",
                      help="replace an earlier output of import-lfwa in OUT (never a folder holding other files)")
    lfwa.set_defaults(handler=_import_lfwa)

    annotate = verbs.add_parser("annotate", help="cache the eight group boxes of every image of a folder")
    annotate.add_argument("data", help="dataset folder")
    annotate.add_argument("--annotator", default="synthetic", help="synthetic | celeba5 | dlib | farl")
    annotate.add_argument("--workers", type=POSITIVE, default=None, help="processes (default: all cores)")
    annotate.add_argument("--restart", action="store_true", help="ignore a partial cache and start over")
    annotate.set_defaults(handler=_annotate)

    unet = verbs.add_parser("train-unet", help="train the 8-head UNet on group masks (AML stage 1)")
    unet.add_argument("data", nargs="?", default=None, help="dataset folder (default: the profile's synthetic faces)")
    unet.add_argument("--out", required=True, help="run folder")
    unet.add_argument("--annotator", default=None,
                      help="where the boxes come from (default: the folder's keypoints, else its landmarks, else dlib)")
    unet.add_argument("--input-size", type=POSITIVE, default=None, help="UNet input resolution (default: profile)")
    _run_options(unet, _train_unet)

    train = verbs.add_parser("train", help="train an attribute model (MGMTN, its ablations, baselines)")
    train.add_argument("data", nargs="?", default=None, help="dataset folder (default: the profile's synthetic faces)")
    train.add_argument("--model", default="mgmtn", help="model name (default mgmtn)")
    train.add_argument("--out", required=True, help="run folder")
    train.add_argument("--unet", default=None, help="train-unet run folder (mask-guided models)")
    train.add_argument("--backbone", default=None, help="timm backbone or dlib-resnet29 (default: profile)")
    train.add_argument("--image-size", type=POSITIVE, default=None, help="input crop size (default: profile)")
    train.add_argument("--resize-ratio", type=positive_ratio, default=None,
                       help="resize to image size x this, then crop (1: the whole frame; paper 256/227; default: "
                            "profile)")
    train.add_argument("--weights", default=None, help="local backbone weights file (works offline)")
    train.add_argument("--loss", default=None, help="efl | focal | bce (default: profile)")
    train.add_argument("--stop-after", type=POSITIVE, default=None, help="stop after N epochs; continue with --resume")
    train.add_argument("--mask-scale", type=positive_ratio, default=None,
                       help="mask region as a fraction of the predicted region's area (Table 4; default 1)")
    train.add_argument("--select-images", type=POSITIVE, default=None,
                       help="size of the selection split carved from train (default: profile)")
    train.add_argument("--init", default=None, help="start from the best weights of this finished run (fine-tuning)")
    train.add_argument("--backbone-from", default=None,
                       help="start the backbone from this finished run's (any model on the same backbone)")
    train.add_argument("--random-init", action="store_true", help="random backbone weights, even in the paper profile")
    train.add_argument("--backbone-lr", type=positive_ratio, default=None,
                       help="the backbone's learning rate as a factor of the heads' (default: profile)")
    train.add_argument("--freeze-backbone-epochs", type=non_negative, default=None,
                       help="hold the backbone for this many epochs first (default: profile)")
    train.add_argument("--batch-size", type=POSITIVE, default=None, help="(default: profile)")
    train.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                       help="fp32; bf16 autocast; auto: bf16 where the hardware computes it (CUDA, a CPU with "
                            "AVX-512 BF16 or AMX), else fp32 (default: profile)")
    train.add_argument("--workers", type=at_least(0), default=None,
                       help="DataLoader worker processes (default: profile)")
    _run_options(train, _train)

    ablate = verbs.add_parser("ablate", help="train and score the paper's ablation studies (Tables 3, 4, Fig. 9)")
    ablate.add_argument("data", nargs="?", default=None, help="dataset folder (default: the profile's synthetic faces)")
    ablate.add_argument("--out", required=True, help="folder for the runs, one subfolder each")
    ablate.add_argument("--study", action="append", choices=["components", "mask-scale", "fusion", "comparison"],
                        help="repeat for several (default: components, mask-scale, fusion)")
    ablate.add_argument("--unet", default=None, help="train-unet run folder")
    ablate.add_argument("--stage1", default=None,
                        help="each seed's finished stage-1 global run, {seed} in the path (runs/global-seed{seed}): "
                             "every run starts its backbone from its seed's")
    ablate.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="run every row with each of these seeds too (default: the study's own seeds)")
    ablate.add_argument("--profile", default="smoke", help=f"{' | '.join(PROFILES)} (default smoke)")
    ablate.add_argument("--epochs", type=POSITIVE, default=None, help="(default: profile)")
    ablate.add_argument("--resize-ratio", type=positive_ratio, default=None,
                        help="resize to image size x this, then crop (1: the whole frame; default: profile)")
    ablate.add_argument("--limit", type=POSITIVE, default=None, help="use only the first N training images")
    ablate.add_argument("--select-images", type=POSITIVE, default=None,
                        help="size of the selection split carved from train (default: profile)")
    ablate.add_argument("--device", type=device, default="cpu")
    ablate.set_defaults(handler=_ablate)

    recipes = verbs.add_parser("recipes", help="the recipe study: which from-scratch recipe learns (page 12)")
    recipes.add_argument("data", help="CelebA-layout folder")
    recipes.add_argument("--out", required=True, help="folder for the runs, one subfolder each")
    recipes.add_argument("--row", action="append", default=None, help="run only this row (repeatable)")
    recipes.add_argument("--study", default="scratch", choices=("scratch", "pretrained"),
                         help="scratch: the cpu profile's recipe (page 12); pretrained: the cpu-pretrained profile's")
    recipes.add_argument("--device", type=device, default="cpu")
    recipes.set_defaults(handler=_recipes)

    evaluate = verbs.add_parser("evaluate", help="score a run on a split of any CelebA-layout folder")
    evaluate.add_argument("run", help="run folder")
    evaluate.add_argument("--data", required=True, help="dataset folder")
    evaluate.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    evaluate.add_argument("--out", default=None,
                          help="FILE.json, beside it FILE.per_attribute.csv and FILE.probs.npz (default "
                               "RUN/eval_SPLIT.json on the run's own data, RUN/eval_FOLDER-DIGEST_SPLIT.json on other)")
    evaluate.add_argument("--force", action="store_true", help="replace an --out file that mgmtn did not write")
    evaluate.add_argument("--limit", type=POSITIVE, default=None, help="only the first N images of the split")
    evaluate.add_argument("--device", type=device, default="cpu")
    evaluate.set_defaults(handler=_evaluate)

    rescore = verbs.add_parser("rescore", help="choose a saved evaluation's operating point again, without the model")
    rescore.add_argument("evaluations", nargs="+", help="eval_SPLIT.json files with their .probs.npz")
    rescore.add_argument("--data", required=True, help="the dataset folder they scored")
    rescore.set_defaults(handler=_rescore)

    positions = verbs.add_parser("positions", help="where a run's max-pooled features fire (Fig. 8)")
    positions.add_argument("run", help="run folder")
    positions.add_argument("--data", required=True, help="dataset folder")
    positions.add_argument("--annotator", required=True, help="whose boxes define the group regions")
    positions.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    positions.add_argument("--limit", type=POSITIVE, default=1000, help="first N images of the split (default 1000)")
    positions.add_argument("--device", type=device, default="cpu")
    positions.set_defaults(handler=_positions)

    predict = verbs.add_parser("predict", help="attribute probabilities of single images")
    predict.add_argument("run", help="run folder")
    predict.add_argument("images", nargs="+", help="image files (any size or mode)")
    predict.add_argument("--overlay", default=None, help="folder for PNGs of the predicted group masks")
    predict.add_argument("--align", choices=("auto", "none", "always"), default="auto",
                         help="find and align faces with dlib: auto (default) unless an image is already "
                              "CelebA's aligned 178x218, always, or none (each image is one face as it is)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument("--device", type=device, default="cpu")
    predict.set_defaults(handler=_predict)

    effect = verbs.add_parser("align-effect", help="score a run on photos with and without face alignment")
    effect.add_argument("run", help="run folder (a CelebA-trained run)")
    effect.add_argument("--data", required=True, help="CelebA-layout folder of photos, e.g. an imported LFWA")
    effect.add_argument("--out", required=True, help="JSON file for the two modes' scores")
    effect.add_argument("--limit", type=POSITIVE, default=None, help="only the first N images")
    effect.add_argument("--device", type=device, default="cpu")
    effect.set_defaults(handler=_align_effect)

    book = verbs.add_parser("book", help="execute the notebooks and build the HTML book")
    book.add_argument("--profile", default="smoke", help=f"{' | '.join(PROFILES)} (default smoke)")
    book.add_argument("--data-root", default=None, help="dataset folder (default: synthetic faces)")
    book.add_argument("--device", type=device, default="cpu")
    book.add_argument("--project", default=".", help="project folder (default .)")
    book.add_argument("--force", action="store_true", help="re-execute notebooks even when cached")
    book.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    book.set_defaults(handler=_book)
    return parser


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning reaches the user as one line, without the source line that raised it."""
    print(f"mgmtn: note: {message}", file=sys.stderr)


def _one_line(error: MgmtnError) -> str:
    """The message; for one re-raised by a DataLoader worker (its traceback inside), the original's own line."""
    text = str(error)
    if "Original Traceback" in text:
        text = text.strip().splitlines()[-1].split(": ", 1)[-1]
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a bad argument: argparse printed its one-line error
        return stop.code
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _note
            args.handler(args)
    except MgmtnError as error:
        print(f"mgmtn {args.verb}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mgmtn {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
