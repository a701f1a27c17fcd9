"""Does alignment matter? A CelebA-trained run scored on photos that are not CelebA crops (LFW frames).

Each image reaches the model either as it is (``none``) or with its face
nearest the image centre found by dlib and warped into CelebA's aligned frame
(``auto``, see ``mgmtn.data.align``); where dlib finds no face the image is
used as it is, and counted. Scores are given at threshold 0.5 and at the
run's own operating point, chosen on CelebA's selection split (never on the
photos scored here).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mgmtn import metrics, operating_point
from mgmtn.attributes import ATTRIBUTES
from mgmtn.config import TrainConfig
from mgmtn.data.align import FaceAligner, central_face
from mgmtn.data.celeba import read_index
from mgmtn.data.dataset import CelebADataset
from mgmtn.data.transforms import EvalTransform
from mgmtn.engine import make_loader
from mgmtn.ownership import check_output_file
from mgmtn.provenance import record, write_json
from mgmtn.train import eval_transform, load_run, predict_probs


@dataclass
class CentralFace:
    """A dataset transform: the central face in CelebA's frame (or the image as it is), then ``framing``."""

    framing: EvalTransform
    aligner: FaceAligner | None = None  # None: every image as it is
    seconds: float = 0.0
    missed: int = 0

    def __call__(self, image: Image.Image, boxes=None, rng=None):
        if self.aligner is not None:
            started = time.perf_counter()
            faces = self.aligner(image)
            if faces:
                image = central_face(faces, image.size).image(image)
            else:
                self.missed += 1
            self.seconds += time.perf_counter() - started
        return self.framing(image, None, rng)


def alignment_effect(run: Path, data: Path, out: Path, device: str = "cpu", limit: int | None = None) -> dict:
    """Score ``run`` on every image of ``data`` with ``--align none`` and ``auto``; write and return the record."""
    started = time.perf_counter()
    check_output_file(out, "align-effect", ("modes", "majority"))
    model, config = load_run(run, device)
    cfg = TrainConfig.from_record(config["train"])
    index = read_index(data)
    part = index.split(None, limit)
    # The run's own operating point; for an older run that records none, the one its val evaluation chose.
    chosen, point = Path(run) / "eval_val.json", operating_point.read(run)
    thresholds = point["array"] if point else None
    if point is None and chosen.exists():
        thresholds = np.array([json.loads(chosen.read_text())["thresholds"][name] for name in ATTRIBUTES])
    modes = {}
    for mode in ("none", "auto"):
        framing = CentralFace(eval_transform(cfg), FaceAligner() if mode == "auto" else None)
        targets, probs = predict_probs(model, make_loader(CelebADataset(part, transform=framing), 64, False, 0),
                                       device)
        modes[mode] = {**metrics.summary(targets, probs), "faces_missed": framing.missed,
                       "align_ms_per_image": round(1000 * framing.seconds / len(part), 2)}
        if thresholds is not None:
            modes[mode]["at_run_operating_point"] = metrics.summary(targets, probs, thresholds)
    result = record(device, run=str(run), model=config["model"], images=len(part), modes=modes,
                    majority=metrics.majority_scores(part.labels, part.labels),  # the best constant answer here
                    data=part.describe(), wall_seconds=round(time.perf_counter() - started, 1))
    write_json(out, result)
    return result
